"""Bulk writes for the import and the demo data: PostgreSQL COPY with ids reserved from the
table's sequence (so nothing is read back), bulk_create on other databases."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils import timezone


def reserve_ids(model: type[Model], count: int) -> list[int]:
    """Take `count` ids from the table's sequence (PostgreSQL), so COPY can write them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def copy_rows(model: type[Model], columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Stream rows into the model's table with PostgreSQL COPY (psycopg 3). Values must be
    plain Python values psycopg adapts (str, int, bool, date, datetime, UUID, None)."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        raw = getattr(cursor, "cursor", cursor)
        with raw.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def model_instances(model: type[Model], rows: Iterable[Mapping[str, Any]]) -> list[Model]:
    """Unsaved instances from {attname: value} rows, for insert_objects; an attribute a row does
    not give takes its field's default. Built by Model.__init__'s positional path, at half the
    cost of keyword arguments (it counts at 400,000 follow-ups an import)."""
    fields = model._meta.concrete_fields
    return [
        model(*[row[f.attname] if f.attname in row else f.get_default() for f in fields])
        for row in rows
    ]


def insert_objects(model: type[Model], objects: list[Model], *, batch_size: int = 5000) -> None:
    """Insert unsaved instances and set their pks. For models without JSON or file fields:
    attribute values go to the database as they are (auto_now fields get the current time)."""
    if not objects:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects, batch_size=batch_size)
        return
    now = timezone.now()
    fields = list(model._meta.concrete_fields)
    stamped = [
        f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    missing = [obj for obj in objects if obj.pk is None]
    for obj, pk in zip(missing, reserve_ids(model, len(missing)), strict=True):
        obj.pk = pk
    for obj in objects:
        for field in stamped:
            if getattr(obj, field.attname) is None:
                setattr(obj, field.attname, now)
        obj._state.adding = False
    attnames = [f.attname for f in fields]
    copy_rows(
        model,
        [f.column for f in fields],
        ([getattr(obj, name) for name in attnames] for obj in objects),
    )
