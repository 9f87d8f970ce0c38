"""Local UI users: create, verify, list, delete, change role or password. Passwords are hashed with
werkzeug's scrypt. Deleting a user or changing their role or password ends their sessions; deleting
a user also deletes their API tokens (a role change holds for their tokens at once)."""

from __future__ import annotations

import re

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from schemas.metadata.models import User
from schemas.metadata.sessions import SessionStore
from schemas.metadata.store import Metadata, MetadataError
from schemas.metadata.tokens import TokenStore

ROLES = ("viewer", "admin")
MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
# Checked when the user does not exist, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = generate_password_hash("llmpulse-timing-equaliser", method="scrypt")


class UserStore:
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    def create(self, username: str, password: str, role: str) -> None:
        """Sessions left under this name (a user removed behind our back) do not pass to the new one."""
        _validate(username, password, role)
        SessionStore(self.metadata).end_all(username)
        with self.metadata.session() as db:
            db.add(User(username=username, password_hash=generate_password_hash(password, method="scrypt"),
                        role=role))
            try:
                db.commit()
            except IntegrityError:
                raise MetadataError(f"user {username!r} already exists") from None

    def verify(self, username: str, password: str) -> str | None:
        """The user's role when the password is right, else None."""
        with self.metadata.session() as db:
            user = db.scalar(select(User).where(User.username == username))
        if user is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        return user.role if check_password_hash(user.password_hash, password) else None

    def list(self) -> list[tuple[str, str]]:
        with self.metadata.session() as db:
            return [(u.username, u.role) for u in db.scalars(select(User).order_by(User.username))]

    def delete(self, username: str) -> bool:
        TokenStore(self.metadata).delete_all(username)
        with self.metadata.session() as db:
            deleted = db.execute(delete(User).where(User.username == username)).rowcount
            db.commit()
        SessionStore(self.metadata).end_all(username)
        return deleted == 1

    def set_role(self, username: str, role: str) -> None:
        """A new role holds from the next login: the user's sessions end now."""
        if role not in ROLES:
            raise MetadataError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        self._update(username, role=role)

    def set_password(self, username: str, password: str) -> None:
        """Whoever knew the old password is logged out: the user's sessions end now."""
        if len(password or "") < MIN_PASSWORD:
            raise MetadataError(f"a password needs at least {MIN_PASSWORD} characters")
        self._update(username, password_hash=generate_password_hash(password, method="scrypt"))

    def _update(self, username: str, **values: str) -> None:
        with self.metadata.session() as db:
            changed = db.execute(update(User).where(User.username == username).values(**values)).rowcount
            db.commit()
        if changed != 1:
            raise MetadataError(f"no user {username!r}; `llmpulse users list` shows them")
        SessionStore(self.metadata).end_all(username)


def _validate(username: str, password: str, role: str) -> None:
    if not _USERNAME.match(username or ""):
        raise MetadataError("a username is 1-64 letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        raise MetadataError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if len(password or "") < MIN_PASSWORD:
        raise MetadataError(f"a password needs at least {MIN_PASSWORD} characters")
