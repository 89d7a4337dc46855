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
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

M = TypeVar("M", bound=Model)
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


def insert(
    model: type[Model], names: Sequence[str], rows: Sequence[Sequence[Any]], *, ids: bool = False
) -> list[int]:
    """Insert ``rows`` (each the values of the columns ``names``, as ``db_value`` gives them)
    into the model's table, ``ROWS_PER_INSERT`` a statement; with ``ids``, each row's new id,
    in the order of ``rows``."""
    made: list[int] = []
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start : start + ROWS_PER_INSERT]
        sql = (
            f"INSERT INTO {table(model)} ({', '.join(names)})"
            f" VALUES {placeholders(len(chunk), len(names))}"
        )
        params = [value for row in chunk for value in row]
        if ids:
            # The ids rise in the order of the VALUES (one sequence, one statement), whatever
            # the order RETURNING gives them in.
            made.extend(sorted(pk for (pk,) in fetch(f"{sql} RETURNING id", params)))
        else:
            execute(sql, params)
    return made


def fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of one statement."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params: Sequence[Any]) -> int:
    """Run one statement; the rows it changed."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


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
