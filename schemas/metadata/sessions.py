"""Server-side UI sessions: the signed cookie carries only a random token, its record lives here.

Logout deletes the record, and deleting a user or changing their role or password deletes all
of theirs, so a copied cookie stops working. The role is read from the users table on every
lookup (the dashboard caches a lookup for a few seconds), never from the cookie.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from schemas.metadata.models import Base, User, UtcDateTime, utcnow

if TYPE_CHECKING:  # schemas.metadata.store imports this module to register the table
    from schemas.metadata.store import Metadata

SESSION_LIFETIME = timedelta(hours=12)  # a login lasts at most this long, however active
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


class SessionRow(Base):
    """Only the token's SHA-256 is stored: a leaked metadata DB holds no usable session."""

    __tablename__ = "ui_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


@dataclass(frozen=True)
class SessionUser:
    username: str
    role: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(self, metadata: Metadata, lifetime: timedelta = SESSION_LIFETIME) -> None:
        self.metadata = metadata
        self.lifetime = lifetime

    def open(self, username: str, now: datetime | None = None) -> str:
        """A new session for `username`; the token returned goes into the signed cookie."""
        now = now or utcnow()
        token = secrets.token_urlsafe(32)
        with self.metadata.session() as db:
            db.execute(delete(SessionRow).where(SessionRow.expires_at <= now))
            db.add(SessionRow(id_hash=_hash(token), username=username, created_at=now, last_seen_at=now,
                              expires_at=now + self.lifetime))
            db.commit()
        return token

    def resolve(self, token: str, now: datetime | None = None) -> SessionUser | None:
        """The session's user with their current role; None once ended, expired or the user is gone."""
        now = now or utcnow()
        with self.metadata.session() as db:
            found = db.execute(select(SessionRow, User.role).join(User, User.username == SessionRow.username)
                               .where(SessionRow.id_hash == _hash(token))).first()
            if found is None or found[0].expires_at <= now:
                return None
            row, role = found
            if now - row.last_seen_at >= TOUCH_EVERY:
                row.last_seen_at = now
                db.commit()
            return SessionUser(row.username, role)

    def end(self, token: str) -> None:
        with self.metadata.session() as db:
            db.execute(delete(SessionRow).where(SessionRow.id_hash == _hash(token)))
            db.commit()

    def end_all(self, username: str) -> int:
        """Every session of `username`: the user was deleted, or their role or password changed."""
        with self.metadata.session() as db:
            ended = db.execute(delete(SessionRow).where(SessionRow.username == username)).rowcount
            db.commit()
            return ended
