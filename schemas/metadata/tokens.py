"""Personal API tokens: how a script or a CI machine calls /api/v1 of a server that needs a login.

A token belongs to a user and acts with that user's current role (read from the users table on
every lookup, as sessions do), so a viewer's token cannot change anything. Only its SHA-256 is
stored (256 random bits: a slow hash adds nothing); the token itself is shown once. The `lpt_`
prefix tells it apart from an ingest key (`lp_`), so each port can say which kind it was sent.
A token may expire; revoking it, or deleting its user, ends it. A password change does not: a
CI secret should not break because its owner changed their password.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from schemas.metadata.models import Base, User, UtcDateTime, utcnow

if TYPE_CHECKING:  # schemas.metadata.store imports this module to register the table
    from schemas.metadata.store import Metadata

TOKEN_PREFIX = "lpt_"
SHOWN_PREFIX = 12  # characters of a token kept in clear to tell tokens apart in lists
MAX_TOKEN_NAME = 128
MAX_EXPIRY_DAYS = 3650
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(MAX_TOKEN_NAME), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


@dataclass(frozen=True)
class TokenInfo:
    id: int
    username: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at is not None and self.expires_at <= now else "active"


@dataclass(frozen=True)
class NewToken:
    token: str
    info: TokenInfo


@dataclass(frozen=True)
class TokenCheck:
    """A token's verdict: its user and their role, or why it was refused (unknown, revoked, expired)."""

    username: str | None = None
    role: str | None = None
    refusal: str = ""


class TokenError(ValueError):
    """Bad token input (no such user, an expiry out of range); the message says what to change."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_token(secret: str) -> bool:
    return secret.startswith(TOKEN_PREFIX)


class TokenStore:
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    def create(self, username: str, name: str = "", expires_days: int | None = None,
               now: datetime | None = None) -> NewToken:
        now = now or utcnow()
        _validate(name, expires_days)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.metadata.session() as db:
            user = db.scalar(select(User).where(User.username == username))
            if user is None:
                raise TokenError(f"no user {username!r}; `llmpulse users list` shows them")
            row = ApiTokenRow(user_id=user.id, name=name, prefix=token[:SHOWN_PREFIX], token_hash=hash_token(token),
                              created_at=now, expires_at=now + timedelta(days=expires_days) if expires_days else None)
            db.add(row)
            db.commit()
            return NewToken(token, _info(row, username))

    def check(self, token: str, now: datetime | None = None) -> TokenCheck:
        """Who the token acts as now; last_used_at is written at most once a minute."""
        now = now or utcnow()
        with self.metadata.session() as db:
            found = db.execute(select(ApiTokenRow, User.username, User.role).join(User, User.id == ApiTokenRow.user_id)
                               .where(ApiTokenRow.token_hash == hash_token(token))).first()
            if found is None:
                return TokenCheck(refusal="unknown")
            row, username, role = found
            if row.revoked_at is not None:
                return TokenCheck(refusal="revoked")
            if row.expires_at is not None and row.expires_at <= now:
                return TokenCheck(refusal="expired")
            if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
                row.last_used_at = now
                db.commit()
            return TokenCheck(username, role)

    def list(self, username: str | None = None) -> list[TokenInfo]:
        with self.metadata.session() as db:
            stmt = select(ApiTokenRow, User.username).join(User, User.id == ApiTokenRow.user_id)
            if username:
                stmt = stmt.where(User.username == username)
            return [_info(row, name) for row, name in db.execute(stmt.order_by(ApiTokenRow.id))]

    def revoke(self, token_id: int, now: datetime | None = None) -> bool:
        """False when there is no such token or it was revoked already."""
        with self.metadata.session() as db:
            row = db.get(ApiTokenRow, token_id)
            if row is None or row.revoked_at is not None:
                return False
            row.revoked_at = now or utcnow()
            db.commit()
            return True

    def delete_all(self, username: str) -> int:
        """Every token of `username`, whose user is being deleted (SQLite does not cascade by itself)."""
        with self.metadata.session() as db:
            ids = select(User.id).where(User.username == username).scalar_subquery()
            deleted = db.execute(delete(ApiTokenRow).where(ApiTokenRow.user_id == ids)).rowcount
            db.commit()
            return deleted


def _validate(name: str, expires_days: int | None) -> None:
    if len(name) > MAX_TOKEN_NAME:
        raise TokenError(f"a token name has at most {MAX_TOKEN_NAME} characters")
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRY_DAYS:
        raise TokenError(f"a token expires after 1 to {MAX_EXPIRY_DAYS} days, got {expires_days}")


def _info(row: ApiTokenRow, username: str) -> TokenInfo:
    return TokenInfo(row.id, username, row.name, row.prefix, row.created_at, row.expires_at, row.last_used_at,
                     row.revoked_at)
