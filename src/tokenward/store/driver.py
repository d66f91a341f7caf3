"""Statements that every write runs, executed on the database driver.

A create runs five statements. Through ``Connection.execute`` each cost about 40 µs of
Python (an execution context, events, a result object): 210 µs of a create, against 40 µs
for the same five on the driver's cursor (measured on SQLite, one transaction). So these
few are compiled once per dialect by SQLAlchemy, with the bind and result processors of
their column types, and then run on the cursor. Driver errors come back as SQLAlchemy's
own exceptions, so the unit of work maps them as it maps any other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Dialect, Insert, Select
from sqlalchemy.exc import DBAPIError, StatementError

_Processor = Callable[[Any], Any] | None


class _Compiled:
    __slots__ = ("params", "positional", "processors", "results", "sql")

    def __init__(self, statement: Insert | Select[Any], keys: Sequence[str], dialect: Dialect):
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) or None)
        self.sql: str = compiled.string
        #: The parameters in the order the SQL names them (qmark), or by name (pyformat).
        self.positional = compiled.positiontup is not None
        self.params: tuple[str, ...] = tuple(compiled.positiontup or compiled.binds)
        self.processors: tuple[tuple[str, Callable[[Any], Any]], ...] = tuple(
            (name, processor)
            for name in self.params
            if (processor := _bind_processor(compiled.binds[name].type, dialect)) is not None
        )
        self.results: tuple[_Processor, ...] = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in getattr(statement, "selected_columns", ())
        )

    def arguments(self, params: Mapping[str, Any]) -> Any:
        if self.processors:
            params = dict(params)
            for name, process in self.processors:
                params[name] = process(params[name])
        if self.positional:
            return tuple(params[name] for name in self.params)
        return params


def _bind_processor(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    processor: Callable[[Any], Any] | None = type_.dialect_impl(dialect).bind_processor(dialect)
    return processor


class DriverStatement:
    """An insert or select of the busiest writes, run on the driver's cursor.

    ``keys`` are the columns an insert sets (all of them are then given on every call).
    """

    __slots__ = ("_by_dialect", "_keys", "_statement")

    def __init__(self, statement: Insert | Select[Any], keys: Sequence[str] = ()) -> None:
        self._statement = statement
        self._keys = tuple(keys)
        #: Per engine's dialect: its processors may carry that engine's settings (a JSON
        #: serializer, say). Two threads may compile at once; both make the same thing.
        self._by_dialect: WeakKeyDictionary[Dialect, _Compiled] = WeakKeyDictionary()

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> None:
        compiled = self._compiled(conn.dialect)
        _run(conn, compiled.sql, compiled.arguments(params)).close()

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        compiled = self._compiled(conn.dialect)
        _run(conn, compiled.sql, [compiled.arguments(row) for row in rows], many=True).close()

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row (of a select, or of an insert's RETURNING), its values converted
        by the column types as SQLAlchemy converts them."""
        compiled = self._compiled(conn.dialect)
        cursor = _run(conn, compiled.sql, compiled.arguments(params))
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        if not compiled.results:
            return tuple(row)
        return tuple(
            value if process is None else process(value)
            for value, process in zip(row, compiled.results, strict=True)
        )

    def _compiled(self, dialect: Dialect) -> _Compiled:
        compiled = self._by_dialect.get(dialect)
        if compiled is None:
            compiled = self._by_dialect[dialect] = _Compiled(self._statement, self._keys, dialect)
        return compiled


def _run(conn: Connection, sql: str, arguments: Any, *, many: bool = False) -> Any:
    """The driver's cursor after running ``sql`` (once, or for each of ``arguments``)."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if many:
            cursor.executemany(sql, arguments)
        else:
            cursor.execute(sql, arguments)
    except conn.dialect.loaded_dbapi.Error as exc:
        # As SQLAlchemy does: a lost connection is invalidated, so that the unit of work's
        # rollback does not fail on it and the pool does not hand it out again.
        lost = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor)
        with contextlib.suppress(Exception):
            cursor.close()
        if lost:
            conn.invalidate(exc)
        raise _wrapped(conn, sql, arguments, exc, many=many, lost=lost) from exc
    return cursor


def _wrapped(
    conn: Connection, sql: str, arguments: Any, exc: Exception, *, many: bool, lost: bool
) -> StatementError:
    """As SQLAlchemy raises it (``IntegrityError``, ``OperationalError``, ...), and, like it,
    with the parameters (hashes, sealed secrets) left out of its text when the engine hides
    them (``make_engine`` does)."""
    return DBAPIError.instance(
        sql,
        arguments,
        exc,
        conn.dialect.loaded_dbapi.Error,
        hide_parameters=conn.engine.hide_parameters,
        connection_invalidated=lost,
        dialect=conn.dialect,
        ismulti=many,
    )
