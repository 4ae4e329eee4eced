"""Writing many rows fast, for the demo generator and the contract import: PostgreSQL's COPY
(psycopg 3) where available, bulk_create in batches elsewhere (SQLite).

Three promises, on both paths:

- The columns written are derived from the model: every concrete field, in the model's order
  (`copy_columns`), never a list typed by hand. A field added to a model is written too (with
  its default when the caller gives no value), so a migration cannot silently desync a writer;
  a value for a field the model does not have is refused.
- Primary keys are reserved before the rows are written (`ids_reserve`), so the caller knows
  every new row's id and nothing is read back: rows of another table can point at them in the
  same pass.
- auto_now and auto_now_add fields get the time of the write, as Model.save and bulk_create
  give them.

Two ways in: `rows_writer(model)` streams rows given by field (the city-scale generator: memory
stays bounded), `objects_insert(model, objects)` writes unsaved instances and sets their pks.
Call both inside the transaction that owns the rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from django.db import connection, models
from django.utils import timezone

COPY_CHUNK_ROWS = 10_000  # rows per COPY statement (and ids reserved at a time) on PostgreSQL
BULK_BATCH_SIZE = 2000  # rows per bulk_create elsewhere


class RowWriter(Protocol):
    def __call__(self, **values: Any) -> int:
        """Queue one row, its values by field attname (`resident_id`, not `resident`); return
        its primary key."""
        ...


def uses_copy() -> bool:
    return connection.vendor == "postgresql"


def copy_columns(model: type[models.Model]) -> list[str]:
    """The columns every write of `model` fills: its concrete fields' columns, in model order."""
    return [field.column for field in model._meta.concrete_fields]


def ids_reserve(model: type[models.Model], count: int) -> list[int]:
    """`count` primary keys for new rows of `model`, in ascending order, that no existing row
    has and no other insert will take. Write the rows with them in the same transaction.

    PostgreSQL: drawn from the primary key's own sequence in one statement. Safe beside
    concurrent inserts and never handed out twice (not even after a rollback), so the ids need
    not be consecutive. Other databases (SQLite, one writer at a time): the `count` ids after
    the table's largest, consecutive; an insert into the table before the rows are written
    would take them, so reserve right before writing."""
    if count < 0:
        raise ValueError(f"cannot reserve {count} ids")
    if count == 0:
        return []
    table = connection.ops.quote_name(model._meta.db_table)
    column = model._meta.pk.column
    with connection.cursor() as cursor:
        if uses_copy():
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
            (sequence,) = cursor.fetchone()
            if sequence is None:
                raise ValueError(f"{model.__name__}: its primary key has no sequence")
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [sequence, count])
            return sorted(row[0] for row in cursor.fetchall())
        cursor.execute(f"SELECT MAX({connection.ops.quote_name(column)}) FROM {table}")  # noqa: S608 - names from the model
        (largest,) = cursor.fetchone()
        first = (largest or 0) + 1
        return list(range(first, first + count))


class _Columns:
    """How a row of `model` is laid out: its concrete fields in order, which of them take the
    write time, which need a JSON adapter for COPY."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]
        self.known = frozenset(self.attnames)
        self.pk_attname = model._meta.pk.attname
        self.stamped = frozenset(
            field.attname
            for field in self.fields
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        )
        self.json = [
            (index, field)
            for index, field in enumerate(self.fields)
            if isinstance(field, models.JSONField)
        ]

    def row(self, values: dict[str, Any], pk: int, now: dt.datetime) -> list[Any]:
        """The row of these values: the pk and write time set, defaults for what is missing."""
        if not values.keys() <= self.known:
            unknown = ", ".join(sorted(values.keys() - self.known))
            raise TypeError(f"{self.model.__name__} has no field (attname) {unknown}")
        row: list[Any] = []
        for field in self.fields:
            attname = field.attname
            if attname == self.pk_attname:
                row.append(pk)
            elif attname in self.stamped:
                row.append(now)
            elif attname in values:
                row.append(values[attname])
            elif field.has_default():
                row.append(field.get_default())
            elif field.null:
                row.append(None)
            else:
                raise TypeError(f"{self.model.__name__}.{attname}: no value and no default")
        return row

    def stamp(self, obj: models.Model, now: dt.datetime) -> None:
        for attname in self.stamped:
            setattr(obj, attname, now)

    def of_object(self, obj: models.Model) -> list[Any]:
        return [getattr(obj, attname) for attname in self.attnames]


def _copy(columns: _Columns, rows: Iterable[Sequence[Any]]) -> None:
    """One COPY statement of `rows` (values in `copy_columns` order) into the model's table."""
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(columns.model._meta.db_table),
        sql.SQL(", ").join(sql.Identifier(column) for column in copy_columns(columns.model)),
    )
    adapt = connection.ops.adapt_json_value
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            if columns.json:
                adapted = list(row)
                for index, field in columns.json:
                    if adapted[index] is not None:
                        adapted[index] = adapt(adapted[index], field.encoder)
                copy.write_row(adapted)
            else:
                copy.write_row(row)


def _bulk_create(columns: _Columns, rows: Iterable[Sequence[Any]], batch_size: int) -> None:
    model = columns.model
    objects = [model(**dict(zip(columns.attnames, row, strict=True))) for row in rows]
    model._default_manager.bulk_create(objects, batch_size=batch_size)


@contextmanager
def rows_writer(
    model: type[models.Model], *, build_indexes_after: bool = False, chunk: int | None = None
) -> Iterator[RowWriter]:
    """Yield `write(**values) -> pk`; every row is in the table (in the open transaction) on
    exit. A field not given gets its default, else NULL where allowed; a missing required
    value, or a value for a field the model does not have, raises TypeError. The primary key,
    unless given, comes from `ids_reserve` a chunk at a time.

    `build_indexes_after`: on PostgreSQL, when the table is empty, load it without its
    secondary indexes and constraints and rebuild them at the end (city-scale generation).
    Dropping a foreign key needs no deferred checks pending on the tables it joins: write
    under `constraints_immediate()`.
    `chunk`: rows per COPY statement or bulk_create batch (tests make it small)."""
    columns = _Columns(model)
    size = chunk or (COPY_CHUNK_ROWS if uses_copy() else BULK_BATCH_SIZE)
    pending: list[list[Any]] = []
    free_ids: list[int] = []
    now = timezone.now()

    def flush() -> None:
        if not pending:
            return
        if uses_copy():
            _copy(columns, pending)
        else:
            _bulk_create(columns, pending, size)
        pending.clear()

    def write(**values: Any) -> int:
        pk = values.get(columns.pk_attname)
        if pk is None:
            if not free_ids:
                # Reserving reads the table (SQLite) or runs a query (no COPY may be open).
                flush()
                free_ids.extend(reversed(ids_reserve(model, size)))
            pk = free_ids.pop()
        pending.append(columns.row(values, pk, now))
        if len(pending) >= size:
            flush()
        return pk

    with _indexes_built_after(model, build_indexes_after and uses_copy()):
        yield write
        flush()


def model_instances(
    model: type[models.Model], rows: Iterable[Mapping[str, Any]]
) -> list[models.Model]:
    """Unsaved instances from {attname: value} rows, for `objects_insert`; an attribute a row
    does not give takes its field's default. Built through Model.__init__'s positional path, at
    half the cost of keyword arguments (it counts at 400,000 follow-ups an import)."""
    fields = model._meta.concrete_fields
    return [
        model(*[row[f.attname] if f.attname in row else f.get_default() for f in fields])
        for row in rows
    ]


def objects_insert(
    model: type[models.Model], objects: Sequence[models.Model], *, batch_size: int = BULK_BATCH_SIZE
) -> None:
    """Insert unsaved instances of `model` and set their pks (reserved, never read back) and
    auto_now fields. The instances then behave as saved ones."""
    if not objects:
        return
    columns = _Columns(model)
    missing = [obj for obj in objects if obj.pk is None]
    for obj, pk in zip(missing, ids_reserve(model, len(missing)), strict=True):
        obj.pk = pk
    now = timezone.now()
    for obj in objects:
        columns.stamp(obj, now)
    if uses_copy():
        for start in range(0, len(objects), COPY_CHUNK_ROWS):
            _copy(columns, map(columns.of_object, objects[start : start + COPY_CHUNK_ROWS]))
    else:
        model._default_manager.bulk_create(objects, batch_size=batch_size)
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias


@contextmanager
def constraints_immediate() -> Iterator[None]:
    """On PostgreSQL, check foreign keys row by row while copying instead of queueing millions
    of deferred checks until commit (Django's constraints are DEFERRABLE INITIALLY DEFERRED);
    checks already queued run on entry. Deferred again on a normal exit (an error aborts the
    transaction, and the setting with it)."""
    if not uses_copy():
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@contextmanager
def _indexes_built_after(model: type[models.Model], wanted: bool) -> Iterator[None]:
    """Loading an empty table, drop its secondary indexes, unique and foreign-key constraints
    and recreate them, under the same names and definitions, once the rows are in: one sort
    per index and one join per foreign key instead of millions of single-row updates and
    checks (about 5x faster for the encounters). Same transaction, so a failure restores
    everything; a table that has rows already keeps its indexes."""
    if not wanted or model._default_manager.exists():
        yield
        return
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY conname",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT index_class.relname, pg_get_indexdef(index_class.oid) FROM pg_index entry "
            "JOIN pg_class index_class ON index_class.oid = entry.indexrelid "
            "WHERE entry.indrelid = %s::regclass AND NOT entry.indisprimary AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = entry.indexrelid) "
            "ORDER BY index_class.relname",
            [table],
        )
        indexes = cursor.fetchall()
        for name, _definition in constraints:
            cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    yield
    with connection.cursor() as cursor:
        for _name, definition in indexes:
            cursor.execute(definition)
        for name, definition in constraints:
            cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
