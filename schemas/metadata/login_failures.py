"""Wrong-password counts of the login throttle, in the metadata DB so every dashboard process
(server mode runs several) shares them and a restart does not reset them.

Times are wall-clock epoch seconds: they are compared across processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from schemas.metadata.models import Base

if TYPE_CHECKING:  # schemas.metadata.store imports this module to register the table
    from schemas.metadata.store import Metadata


class LoginFailureRow(Base):
    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "user 'ada'" or "address 10.0.0.1"
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[float] = mapped_column(default=0.0)
    last_failure: Mapped[float] = mapped_column(default=0.0, index=True)


@dataclass(frozen=True)
class FailureRecord:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


class LoginFailures:
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    def read(self, keys: tuple[str, ...]) -> dict[str, FailureRecord]:
        with self.metadata.session() as db:
            rows = db.scalars(select(LoginFailureRow).where(LoginFailureRow.key.in_(keys)))
            return {r.key: FailureRecord(r.failures, r.locked_until, r.last_failure) for r in rows}

    def write(self, key: str, record: FailureRecord) -> None:
        """Last writer wins: two processes counting the same key at once may count one failure less."""
        for _ in range(2):  # a concurrent first insert of the same key: update it instead
            with self.metadata.session() as db:
                row = db.get(LoginFailureRow, key) or LoginFailureRow(key=key)
                row.failures, row.locked_until, row.last_failure = (record.failures, record.locked_until,
                                                                     record.last_failure)
                db.add(row)
                try:
                    db.commit()
                    return
                except IntegrityError:
                    db.rollback()

    def clear(self, keys: tuple[str, ...]) -> None:
        with self.metadata.session() as db:
            db.execute(delete(LoginFailureRow).where(LoginFailureRow.key.in_(keys)))
            db.commit()

    def forget_before(self, when: float) -> None:
        """Keys quiet since `when` start again from zero; deleting them bounds the table."""
        with self.metadata.session() as db:
            db.execute(delete(LoginFailureRow).where(LoginFailureRow.last_failure < when))
            db.commit()
