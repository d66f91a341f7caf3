"""SQL of the token exchange: its signing keys and the JWTs it issued. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, delete, exists, insert, or_, select, update

from tokenward.signing.keys import StoredKey
from tokenward.store.tables import issued_jwts, signing_keys, tokens


class SqlSigningKeyRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def list(self) -> list[StoredKey]:
        rows = self._conn.execute(select(signing_keys).order_by(signing_keys.c.generation)).all()
        return [
            StoredKey(
                kid=row.kid,
                alg=row.alg,
                generation=row.generation,
                created_at=row.created_at,
                activates_at=row.activates_at,
                public_jwk=row.public_jwk,
                sealed_private=bytes(row.sealed_private),
            )
            for row in rows
        ]

    def add(self, key: StoredKey) -> None:
        """A generation already taken raises ``Conflict`` (at the latest on commit)."""
        self._conn.execute(
            insert(signing_keys).values(
                kid=key.kid,
                generation=key.generation,
                alg=key.alg,
                created_at=key.created_at,
                activates_at=key.activates_at,
                public_jwk=key.public_jwk,
                sealed_private=key.sealed_private,
            )
        )

    def delete(self, kids: Sequence[str]) -> None:
        if kids:
            self._conn.execute(delete(signing_keys).where(signing_keys.c.kid.in_(list(kids))))


class SqlIssuedJwtRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, jti: str, token_id: int, expires_at: datetime) -> None:
        self._conn.execute(
            insert(issued_jwts).values(jti=jti, token_id=token_id, expires_at=expires_at)
        )

    def unmarked_revocations(self, now: datetime) -> bool:
        """Whether some live JWT's subject is no longer valid and not yet marked: a read, so
        that a poll of the list writes only when there is something to write."""
        query = select(issued_jwts.c.jti).where(self._newly_revoked(now)).limit(1)
        return self._conn.execute(query).first() is not None

    def mark_revoked(self, now: datetime) -> None:
        self._conn.execute(
            update(issued_jwts).where(self._newly_revoked(now)).values(revoked_at=now)
        )

    def revoked_since(self, since: datetime, now: datetime) -> list[tuple[str, datetime]]:
        rows = self._conn.execute(
            select(issued_jwts.c.jti, issued_jwts.c.expires_at)
            .where(issued_jwts.c.revoked_at >= since, issued_jwts.c.expires_at > now)
            .order_by(issued_jwts.c.revoked_at, issued_jwts.c.jti)
        ).all()
        return [(row.jti, row.expires_at) for row in rows]

    def prune(self, now: datetime) -> None:
        self._conn.execute(delete(issued_jwts).where(issued_jwts.c.expires_at <= now))

    @staticmethod
    def _newly_revoked(now: datetime) -> ColumnElement[bool]:
        # The subject is gone, disabled, or expires now: the same states that verification
        # refuses (a rotated-out secret does not count: the token itself is still valid).
        subject_valid = exists().where(
            tokens.c.id == issued_jwts.c.token_id,
            tokens.c.active.is_(True),
            or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now),
        )
        return and_(
            issued_jwts.c.revoked_at.is_(None),
            issued_jwts.c.expires_at > now,
            ~subject_valid,
        )
