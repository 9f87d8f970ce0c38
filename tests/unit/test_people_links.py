"""Links to user and session pages, and the waterfall's rows: ids survive the path, trees read as trees."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from dashboard.ui.people_links import SESSIONS, USERS, id_from_path, session_href, user_href
from dashboard.ui.urls import parse_query
from dashboard.ui.waterfall import tree_labels, tree_order

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_an_id_with_a_slash_or_space_makes_the_round_trip() -> None:
    query = parse_query("?range=7d&span=abc", now=NOW)
    href = user_href(query, "team/alice smith")
    path = urlsplit(href).path
    assert id_from_path(path, USERS) == "team/alice smith" and "span" not in href and "range=7d" in href
    assert id_from_path("/users/", USERS) is None and id_from_path("/sessions/a/b", SESSIONS) is None


def test_a_session_link_carries_a_day_either_side_of_the_trace() -> None:
    query = parse_query("?range=24h", now=NOW)
    href = session_href(query, "s-1", datetime(2026, 11, 1, 9, 30, tzinfo=UTC))
    params = {k: v[-1] for k, v in parse_qs(urlsplit(href).query).items()}
    assert params == {"from": "2026-10-31T09:30", "to": "2026-11-02T09:30"}


def test_a_user_link_widens_the_range_only_for_a_trace_outside_it() -> None:
    query = parse_query("?range=24h", now=NOW)
    assert "from" not in user_href(query, "u", datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    assert "from=2026-10-25" in user_href(query, "u", datetime(2026, 11, 1, 9, 30, tzinfo=UTC))


def span(span_id: str, parent: str, start: int, name: str = "") -> dict:
    return {"span_id": span_id, "parent_span_id": parent, "start_time": f"2026-12-07T12:00:0{start}+00:00",
            "name": name or span_id}


def test_children_follow_their_parent_indented_and_labels_share_one_width() -> None:
    spans = [span("root", "", 0), span("b", "root", 3), span("a", "root", 1), span("a1", "a", 2),
             span("orphan", "gone", 4)]
    assert [s["span_id"] for s in tree_order(spans)] == ["root", "a", "a1", "b", "orphan"]
    labels = tree_labels(tree_order(spans))
    assert len({len(label) for label in labels}) == 1
    assert labels[0].startswith("root") and labels[2].lstrip("\u00a0").startswith("\u2514\u00a0a1")
