"""Every column that holds sealed blobs, in ONE list, and the repository that re-seals them.

A key rotation re-seals what this list names and nothing else: a new table with a sealed
column (signing keys, say) adds an entry here, or its rows stay under the retired key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Table,
    and_,
    case,
    func,
    literal,
    select,
)

from tokenward.store.tables import console_sessions, signing_keys, tokens, webhooks

_RING_VERSION = b"\x02"
#: One version byte and a key id: the longest blob header (service/sealing.py).
_HEADER_BYTES = 17


@dataclass(frozen=True)
class SealedColumn:
    """``sealed`` holds the blobs; ``bound_to`` is the authenticated data they were sealed
    with; ``row_id`` orders the rows for paging and finds one again."""

    name: str
    table: Table
    row_id: Column[Any]
    bound_to: ColumnElement[Any]
    sealed: Column[Any]
    #: Whether start-up insists on the keys these blobs need. Not for what a server replaces
    #: by itself when it cannot open it (a signing key, a console session): a second server
    #: with its own key must still start.
    checked_at_start: bool = True


#: THE list. An import's marker (an empty blob) seals nothing and is left alone.
SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn(
        name="tokens.sealed_secret",
        table=tokens,
        row_id=tokens.c.id,
        bound_to=tokens.c.secret_hash,
        sealed=tokens.c.sealed_secret,
    ),
    SealedColumn(
        name="webhooks.sealed_secret",
        table=webhooks,
        row_id=webhooks.c.id,
        bound_to=webhooks.c.secret_hash,
        sealed=webhooks.c.sealed_secret,
    ),
    SealedColumn(
        # Bound to a label of the kid (``signing/keys.py``), not to the kid itself.
        name="signing_keys.sealed_private",
        table=signing_keys,
        row_id=signing_keys.c.kid,
        bound_to=literal("signing-key:") + signing_keys.c.kid,
        sealed=signing_keys.c.sealed_private,
        checked_at_start=False,
    ),
    SealedColumn(
        name="console_sessions.sealed_credential",
        table=console_sessions,
        row_id=console_sessions.c.id_hash,
        bound_to=console_sessions.c.id_hash,
        sealed=console_sessions.c.sealed_credential,
        checked_at_start=False,
    ),
)


def _stored(column: SealedColumn) -> ColumnElement[bool]:
    return and_(column.sealed.is_not(None), func.length(column.sealed) > 0)


def _header(column: SealedColumn) -> ColumnElement[Any]:
    return case(
        (
            func.substr(column.sealed, 1, 1) == _RING_VERSION,
            func.substr(column.sealed, 1, _HEADER_BYTES),
        ),
        else_=func.substr(column.sealed, 1, 1),
    )


class SqlSealedRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @staticmethod
    def _column(name: str) -> SealedColumn:
        for column in SEALED_COLUMNS:
            if column.name == name:
                return column
        raise KeyError(name)

    def columns(self) -> Sequence[str]:
        return [column.name for column in SEALED_COLUMNS]

    def samples(self) -> dict[str, tuple[str, bytes]]:
        found: dict[str, tuple[str, bytes]] = {}
        for column in SEALED_COLUMNS:
            if not column.checked_at_start:
                continue
            header = _header(column).label("header")
            firsts = select(header, func.min(column.row_id).label("row_id")).where(_stored(column))
            for row in self._conn.execute(firsts.group_by(header)).all():
                head = bytes(row.header)
                key_id = head[1:].decode("ascii", "replace") if head[:1] == _RING_VERSION else ""
                if head[:1] not in (b"\x01", _RING_VERSION):
                    key_id = f"unknown format {head[:1].hex()}"
                if key_id in found:
                    continue
                sample = self._conn.execute(
                    select(column.bound_to, column.sealed).where(column.row_id == row.row_id)
                ).one()
                found[key_id] = (str(sample[0]), bytes(sample[1]))
        return found

    def not_sealed_under(
        self, column: str, header: bytes, *, after: int | str | None, limit: int
    ) -> Sequence[tuple[int | str, str, bytes]]:
        chosen = self._column(column)
        query = select(chosen.row_id, chosen.bound_to, chosen.sealed).where(
            _stored(chosen), func.substr(chosen.sealed, 1, len(header)) != header
        )
        if after is not None:
            query = query.where(chosen.row_id > after)
        rows = self._conn.execute(query.order_by(chosen.row_id).limit(limit)).all()
        return [(row[0], str(row[1]), bytes(row[2])) for row in rows]

    def replace(self, column: str, replacements: Sequence[tuple[int | str, bytes, bytes]]) -> int:
        chosen = self._column(column)
        written = 0
        for row_id, old, new in replacements:
            result = self._conn.execute(
                chosen.table.update()
                .where(chosen.row_id == row_id, chosen.sealed == old)
                .values({chosen.sealed.name: new})
            )
            written += result.rowcount
        return written
