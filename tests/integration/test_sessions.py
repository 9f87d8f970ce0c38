"""Server-side UI sessions and user changes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from schemas.metadata.models import User, utcnow
from schemas.metadata.sessions import SessionStore, SessionUser
from schemas.metadata.store import Metadata, MetadataError
from schemas.metadata.users import UserStore


@pytest.fixture
def users(metadata: Metadata) -> UserStore:
    store = UserStore(metadata)
    store.create("ada", "correct horse battery", "admin")
    store.create("vic", "viewer password 1", "viewer")
    return store


def test_a_session_resolves_to_the_current_role_until_it_ends(metadata: Metadata, users: UserStore) -> None:
    sessions = SessionStore(metadata)
    token = sessions.open("ada")
    assert sessions.resolve(token) == SessionUser("ada", "admin")
    with metadata.session() as db:  # the role is read from the users table, never stored with the session
        db.execute(update(User).where(User.username == "ada").values(role="viewer"))
        db.commit()
    assert sessions.resolve(token) == SessionUser("ada", "viewer")
    sessions.end(token)
    assert sessions.resolve(token) is None
    assert sessions.resolve("never issued") is None


def test_a_session_expires(metadata: Metadata, users: UserStore) -> None:
    sessions = SessionStore(metadata, lifetime=timedelta(hours=1))
    start = utcnow()
    token = sessions.open("vic", now=start)
    assert sessions.resolve(token, now=start + timedelta(minutes=59)) == SessionUser("vic", "viewer")
    assert sessions.resolve(token, now=start + timedelta(hours=1)) is None


@pytest.mark.parametrize("change", ["delete", "set_role", "set_password"])
def test_deleting_a_user_or_changing_role_or_password_ends_only_their_sessions(
        metadata: Metadata, users: UserStore, change: str) -> None:
    sessions = SessionStore(metadata)
    theirs, others = [sessions.open("vic"), sessions.open("vic")], sessions.open("ada")
    {"delete": lambda: users.delete("vic"), "set_role": lambda: users.set_role("vic", "admin"),
     "set_password": lambda: users.set_password("vic", "a brand new password")}[change]()
    assert [sessions.resolve(t) for t in theirs] == [None, None]
    assert sessions.resolve(others) == SessionUser("ada", "admin")


def test_role_and_password_changes_are_applied_and_validated(users: UserStore) -> None:
    users.set_role("vic", "admin")
    users.set_password("vic", "a brand new password")
    assert users.verify("vic", "a brand new password") == "admin"
    assert users.verify("vic", "viewer password 1") is None
    with pytest.raises(MetadataError, match="role must be one of"):
        users.set_role("vic", "root")
    with pytest.raises(MetadataError, match="at least 10"):
        users.set_password("vic", "short")
    with pytest.raises(MetadataError, match="no user 'nobody'"):
        users.set_role("nobody", "viewer")
    assert users.delete("vic") and not users.delete("vic")


def test_a_new_user_does_not_inherit_sessions_left_under_their_name(metadata: Metadata, users: UserStore) -> None:
    from sqlalchemy import delete

    sessions = SessionStore(metadata)
    token = sessions.open("vic")
    with metadata.session() as db:  # removed behind the store's back: its sessions stay in the table
        db.execute(delete(User).where(User.username == "vic"))
        db.commit()
    users.create("vic", "someone else entirely", "admin")
    assert sessions.resolve(token) is None
