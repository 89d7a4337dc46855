"""Statements sent as SQL text: what the write path's batches share.

Django's ORM builds every query anew from Python objects. A batch of REST or WebSocket
writes makes a handful of small statements whatever its size, and building them cost several
times what running them does (docs/performance.md, "What bounds each figure", REST), so those
statements are written as SQL text, each once, in the selectors and services that own them
(``livevideo.write_selectors``, ``services.reactions``, ``services.comments``). This module
holds what they share: a model's table and columns, rows read back into model instances as
the ORM reads them (the backend's converters: SQLite's datetimes and booleans), values
written as the ORM writes them, and placeholders. The SQL is what both PostgreSQL and SQLite
take (a row-value ``IN``, ``ON CONFLICT ... DO UPDATE``, ``RETURNING``: SQLite 3.35 or later).

A batch's time is mostly its round trips to the database, each ended by a wait for the GIL
behind the event loop (docs/performance.md, "What bounds each figure", REST). So statements
that do not depend on each other go together: ``read_together`` sends reads, and
``execute_together`` a transaction's writes, as one query of several statements on
PostgreSQL (one round trip; the server runs such a query as one transaction), one after
another elsewhere (SQLite's driver takes one statement a call; it has no round trips).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Model

M = TypeVar("M", bound=Model)
R = TypeVar("R")
Rows = list[tuple[Any, ...]]
Statement = tuple[str, Sequence[Any]]  # SQL text with ``%s`` placeholders, and their values
# Rows per INSERT: the write path's rows have at most a few columns, so a statement stays under
# PostgreSQL's limit of 65,535 parameters and SQLite's default of 32,766.
ROWS_PER_INSERT = 1000
Converter = Callable[[Any, Any, Any], Any]


def placeholders(count: int, width: int = 1) -> str:
    """``%s, %s, ...`` for ``count`` values; with ``width`` > 1, ``(%s, %s), ...`` for
    ``count`` rows of ``width`` values."""
    one = "%s" if width == 1 else f"({', '.join(['%s'] * width)})"
    return ", ".join([one] * count)


def table(model: type[Model]) -> str:
    """The model's table, quoted."""
    return _quote(model._meta.db_table)


@functools.cache
def columns(model: type[Model], alias: str) -> str:
    """Every column of the model in field order, ``alias.column, ...``: the select list that
    ``instances`` reads."""
    return ", ".join(f"{alias}.{_quote(field.column)}" for field in model._meta.concrete_fields)


def instances(model: type[M], rows: Iterable[Sequence[Any]], start: int = 0) -> list[M]:
    """Model instances from ``rows`` whose values from position ``start`` on are the
    model's ``columns``, converted as the ORM converts them."""
    connection = connections[DEFAULT_DB_ALIAS]
    converters = _converters(model)
    width = len(model._meta.concrete_fields)
    made = []
    for row in rows:
        values = list(row[start : start + width])
        for i, functions, column in converters:
            for function in functions:
                values[i] = function(values[i], column, connection)
        made.append(model.from_db(DEFAULT_DB_ALIAS, None, values))
    return made


def db_value(model: type[Model], name: str, value: Any) -> Any:
    """``value`` of the model's field ``name`` as the ORM sends it to the database (a
    datetime is text on SQLite)."""
    field = model._meta.get_field(name)
    return field.get_db_prep_save(value, connections[DEFAULT_DB_ALIAS])  # type: ignore[union-attr]


def inserts(
    model: type[Model], names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[Statement]:
    """The statements that insert ``rows`` (each the values of the columns ``names``, as
    ``db_value`` gives them) into the model's table, ``ROWS_PER_INSERT`` a statement."""
    made: list[Statement] = []
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start : start + ROWS_PER_INSERT]
        sql = (
            f"INSERT INTO {table(model)} ({', '.join(names)})"
            f" VALUES {placeholders(len(chunk), len(names))}"
        )
        made.append((sql, [value for row in chunk for value in row]))
    return made


def insert_returning_ids(
    model: type[Model], names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[int]:
    """Insert ``rows`` as ``inserts`` does; each row's new id, in the order of ``rows``."""
    made: list[int] = []
    for sql, params in inserts(model, names, rows):
        # The ids rise in the order of the VALUES (one sequence, one statement), whatever
        # the order RETURNING gives them in.
        made.extend(sorted(pk for (pk,) in fetch(f"{sql} RETURNING id", params)))
    return made


@dataclass(frozen=True, slots=True)
class Query(Generic[R]):
    """A read: its statement, and what its rows make (``read``). No ``sql``: nothing to
    ask (an empty list of ids), read as no rows without a statement."""

    sql: str
    params: Sequence[Any]
    read: Callable[[Rows], R]


def read(query: Query[R]) -> R:
    """What one query's rows make."""
    [found] = read_together(query)
    return found


def read_together(*queries: Query[Any]) -> list[Any]:
    """What each query's rows make, in order: on PostgreSQL in one round trip."""
    rows = iter(_rows([(query.sql, query.params) for query in queries if query.sql]))
    return [query.read(next(rows) if query.sql else []) for query in queries]


def _rows(statements: Sequence[Statement]) -> list[Rows]:
    if len(statements) < 2 or not _together():
        return [fetch(sql, params) for sql, params in statements]
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(*_joined(statements))
        found = [cursor.fetchall()]
        while cursor.nextset():
            found.append(cursor.fetchall())
        return found


def execute_together(statements: Sequence[Statement]) -> None:
    """Run the statements as one transaction (inside the caller's, if one is open): on
    PostgreSQL in one round trip, elsewhere in ``transaction.atomic()``."""
    if not statements:
        return
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        if len(statements) == 1 or _together():
            cursor.execute(*_joined(statements))
            return
        with transaction.atomic():
            for sql, params in statements:
                cursor.execute(sql, params)


def _together() -> bool:
    """Whether several statements may go as one query: PostgreSQL with psycopg's
    client-side binding (Django's default; server-side binding takes one statement a
    query)."""
    connection = connections[DEFAULT_DB_ALIAS]
    return connection.vendor == "postgresql" and not connection.settings_dict["OPTIONS"].get(
        "server_side_binding"
    )


def _joined(statements: Sequence[Statement]) -> Statement:
    return "; ".join(sql for sql, _ in statements), [v for _, params in statements for v in params]


def fetch(sql: str, params: Sequence[Any]) -> Rows:
    """The rows of one statement."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _quote(name: str) -> str:
    return connections[DEFAULT_DB_ALIAS].ops.quote_name(name)


@functools.cache  # one database, so one backend, per process
def _converters(model: type[Model]) -> list[tuple[int, list[Converter], Any]]:
    """The ORM's converters of the model's columns on this backend, by position (as
    ``SQLCompiler.get_converters`` finds them)."""
    connection = connections[DEFAULT_DB_ALIAS]
    found = []
    for i, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if functions:
            found.append((i, functions, column))
    return found
