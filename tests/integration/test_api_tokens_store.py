"""Personal API tokens in the metadata DB, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from schemas.metadata.models import User, utcnow
from schemas.metadata.store import Metadata
from schemas.metadata.tokens import TOUCH_EVERY, ApiTokenRow, TokenCheck, TokenError, TokenStore, hash_token
from schemas.metadata.users import UserStore


@pytest.fixture
def tokens(metadata: Metadata) -> TokenStore:
    users = UserStore(metadata)
    users.create("ada", "correct horse battery", "admin")
    users.create("vic", "viewer password 1", "viewer")
    return TokenStore(metadata)


def test_a_token_acts_as_its_user_with_their_current_role(metadata: Metadata, tokens: TokenStore) -> None:
    new = tokens.create("ada", "ci")
    assert new.token.startswith("lpt_") and len(new.token) > 40
    assert tokens.check(new.token) == TokenCheck("ada", "admin")
    with metadata.session() as db:  # the role is read from the users table on every check
        db.execute(update(User).where(User.username == "ada").values(role="viewer"))
        db.commit()
    assert tokens.check(new.token) == TokenCheck("ada", "viewer")
    UserStore(metadata).set_password("ada", "a brand new password")  # a CI secret survives a password change
    assert tokens.check(new.token) == TokenCheck("ada", "viewer")


def test_only_the_hash_is_stored(metadata: Metadata, tokens: TokenStore) -> None:
    new = tokens.create("vic", "laptop")
    with metadata.engine.connect() as conn:
        rows = [tuple(str(v) for v in row) for row in conn.execute(text("SELECT * FROM api_tokens"))]
    assert len(rows) == 1 and not any(new.token in value for value in rows[0])
    assert hash_token(new.token) in rows[0]
    assert new.info.prefix == new.token[:12] and len(new.info.prefix) < len(new.token) // 3


def test_unknown_revoked_and_expired_tokens_say_why(tokens: TokenStore) -> None:
    start = utcnow()
    lasting, brief = tokens.create("ada", "ci"), tokens.create("vic", "brief", expires_days=1, now=start)
    assert tokens.check("lpt_never-issued").refusal == "unknown"
    assert tokens.check(brief.token, now=start + timedelta(hours=23)) == TokenCheck("vic", "viewer")
    assert tokens.check(brief.token, now=start + timedelta(days=1)).refusal == "expired"
    assert tokens.revoke(lasting.info.id) and not tokens.revoke(lasting.info.id) and not tokens.revoke(999)
    assert tokens.check(lasting.token).refusal == "revoked"
    states = {t.name: t.state(start + timedelta(days=2)) for t in tokens.list()}
    assert states == {"ci": "revoked", "brief": "expired"}


def test_last_use_is_recorded_at_most_once_a_minute(tokens: TokenStore) -> None:
    start = utcnow()
    new = tokens.create("ada", "ci", now=start)
    assert tokens.list()[0].last_used_at is None
    tokens.check(new.token, now=start)
    tokens.check(new.token, now=start + TOUCH_EVERY / 2)
    assert tokens.list()[0].last_used_at == start
    tokens.check(new.token, now=start + TOUCH_EVERY)
    assert tokens.list()[0].last_used_at == start + TOUCH_EVERY


def test_deleting_the_user_deletes_their_tokens_and_a_new_namesake_gets_none(metadata: Metadata,
                                                                              tokens: TokenStore) -> None:
    new, kept = tokens.create("vic", "ci"), tokens.create("ada", "ci")
    assert UserStore(metadata).delete("vic")
    UserStore(metadata).create("vic", "another password", "admin")
    assert tokens.check(new.token).refusal == "unknown"
    assert [t.username for t in tokens.list()] == ["ada"] and tokens.check(kept.token).username == "ada"
    with metadata.session() as db:
        assert db.scalar(select(ApiTokenRow.id).where(ApiTokenRow.token_hash == hash_token(new.token))) is None


@pytest.mark.parametrize(("user", "days", "message"), [("nobody", None, "no user 'nobody'"),
                                                       ("ada", 0, "1 to 3650 days"), ("ada", 4000, "1 to 3650 days")])
def test_bad_input_is_refused_with_what_to_change(tokens: TokenStore, user: str, days: int | None,
                                                  message: str) -> None:
    with pytest.raises(TokenError, match=message):
        tokens.create(user, "x", expires_days=days)
    assert tokens.list() == []


def test_list_filters_by_user(tokens: TokenStore) -> None:
    tokens.create("ada", "one")
    tokens.create("vic", "two")
    assert [t.name for t in tokens.list("vic")] == ["two"]
    assert [t.name for t in tokens.list()] == ["one", "two"]
