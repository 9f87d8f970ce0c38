"""`/metrics`' view of llmpulse itself (what the collector answered, refused, queued and wrote, seen
from this process and from another one, across a restart), who may scrape it, and the UI port's
404 for paths that have no page."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import requests

from dashboard.auth import LOGIN_FIRST
from llmpulse.app import Llmpulse
from schemas.metadata.tokens import TokenStore
from tests.conftest import Running, login_session, make_settings, start_service, wait_for, wait_ready
from tests.scrape import Scrape, scrape
from tests.spans import PROTOBUF, Call, export_calls

INGEST = "llmpulse_ingest"


def test_answers_refusals_spans_and_the_queue_are_counted(tmp_path: Path, chdb_dsn: str) -> None:
    # One queued row fills the queue, and nothing is written until the test flushes: a second request is a 503.
    running = start_service(make_settings(tmp_path, chdb_dsn, queue_max_rows=1, flush_seconds=30, batch_rows=1000))
    try:
        first = running.post_otlp("/v1/traces", export_calls(Call(0), Call(5), Call(6, 2)), PROTOBUF)
        assert first.status_code == 200  # one span refused (an all-zero trace id), two kept
        assert running.post_otlp("/v1/traces", export_calls(Call(7)), PROTOBUF).status_code == 503
        assert running.post_otlp("/v1/traces", b"{}", {"Content-Type": "text/plain"}).status_code == 415
        queued = scrape(running.ui_url)
        assert queued.value(f"{INGEST}_queue_rows") == 2
        running.flush()
        metrics = scrape(running.ui_url)
        assert metrics.value(f"{INGEST}_responses_total", signal="traces", code="200") == 1
        assert metrics.value(f"{INGEST}_responses_total", code="503") == 1
        assert metrics.value(f"{INGEST}_responses_total", code="415") == 1
        assert metrics.value(f"{INGEST}_requests_refused_total", reason="queue_full") == 1
        assert metrics.value(f"{INGEST}_requests_refused_total", reason="unsupported_media_type") == 1
        assert metrics.value(f"{INGEST}_spans_received_total", signal="traces") == 2
        assert metrics.value(f"{INGEST}_spans_rejected_total", signal="traces") == 1
        assert metrics.value(f"{INGEST}_rows_written_total", table="spans") == 2
        assert metrics.value(f"{INGEST}_insert_duration_seconds_count") >= 1
        assert metrics.value(f"{INGEST}_queue_rows") == 0 and metrics.value(f"{INGEST}_dead_letter_rows") == 0
        assert metrics.value(f"{INGEST}_spool_bytes") > 0
    finally:
        running.service.stop()


def test_a_dashboard_process_reads_what_the_collector_reported_and_a_restart_goes_on(tmp_path: Path,
                                                                                      chdb_dsn: str) -> None:
    settings = make_settings(tmp_path, chdb_dsn)
    collector = start_service(settings)
    dashboard = Llmpulse(replace(settings))  # server mode's `llmpulse dashboard`: no collector of its own
    dashboard.start(collector=False, ui=True, detectors=False)
    dashboard_url = f"http://127.0.0.1:{dashboard.port('ui')}"
    wait_ready(dashboard_url + "/readyz")
    try:
        collector.send_calls(Call(1), Call(1, 2))

        def reported() -> float:
            return scrape(dashboard_url).value(f"{INGEST}_spans_received_total", signal="traces")

        wait_for(lambda: reported() == 2, 30, "the dashboard did not see the collector's report")
        collector.service.stop()  # its last report is saved as it stops
        restarted = start_service(settings)
        try:
            restarted.send_calls(Call(3))
            assert scrape(restarted.ui_url).value(f"{INGEST}_spans_received_total", signal="traces") == 3
        finally:
            restarted.service.stop()
        assert reported() == 3
    finally:
        dashboard.stop()


def test_off_loopback_a_scrape_needs_a_token_or_a_login(exposed: Running) -> None:
    url = exposed.ui_url + "/metrics"
    anonymous = requests.get(url, timeout=30)
    assert anonymous.status_code == 401 and anonymous.json() == {"error": LOGIN_FIRST}
    token = TokenStore(exposed.service.metadata).create("vic", "prometheus").token
    scraped = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert scraped.status_code == 200 and "llmpulse_ingest_report_timestamp_seconds" in scraped.text
    Scrape(scraped.text)  # Prometheus's parser reads it
    key = exposed.service.metadata.create_key("default", "app").key
    for secret, word in ((key, "ingest key"), ("lpt_never-issued", "unknown")):
        refused = requests.get(url, headers={"Authorization": f"Bearer {secret}"}, timeout=30)
        assert refused.status_code == 401 and word in refused.json()["error"], secret
    session = login_session(exposed.ui_url, "vic", "viewer password 1")
    assert session.get(url, timeout=30).status_code == 200


PAGES = ["/", "/traces", "/traces/0123456789abcdef0123456789abcdef", "/costs", "/quality", "/annotate", "/alerts",
         "/settings", "/evaluations", "/evaluations/datasets", "/evaluations/datasets/golden",
         "/evaluations/experiments", "/evaluations/experiments/run-1", "/evaluations/compare", "/evaluations/ab",
         "/evaluations/shadow"]
NO_PAGES = ["/metricz", "/wp-login.php", "/traces/a/b", "/evaluations/nope", "/costs/extra", "/.env"]


def test_unknown_paths_are_404_and_every_page_loads(running: Running) -> None:
    for path in PAGES:
        page = running.get(path)
        assert page.status_code == 200 and "_dash-config" in page.text, path
    for path in NO_PAGES:
        missing = running.get(path)
        assert missing.status_code == 404, path
        assert "_dash-config" in missing.text, path  # the shell still renders "Page not found" and the navigation
    api = running.get("/api/v1/nope")
    assert api.status_code == 404 and "no API endpoint" in api.json()["error"]
    assert running.get("/metrics").status_code == 200
