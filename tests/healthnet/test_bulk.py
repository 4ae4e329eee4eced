"""healthnet/bulk.py: the one bulk writer. Every concrete column is written (checked against the
database's own catalogue on PostgreSQL), ids are reserved ahead and are the ids stored,
defaults and the write time fill what the caller leaves out, and the SQLite fallback keeps the
same promises."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.utils import timezone

from healthnet.bulk import (
    constraints_immediate,
    copy_columns,
    ids_reserve,
    objects_insert,
    rows_writer,
)
from healthnet.models import AuditEvent, Encounter, ResidentPopulationTag
from tests.factories import DepartmentFactory, InstitutionFactory, ResidentFactory

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("healthnet", "signing", "referrals", "healthcodes", "reports")
STARTED = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)


def audit_values(n: int) -> dict:
    return {
        "actor_label": f"bulk-{n}",
        "action": "bulk_test",
        "object_type": "resident",
        "object_id": str(n),
        "request_id": f"req-{n}",
        "ip_address": "10.0.0.7",
        "details": {"n": n, "tags": ["甲", "乙"]},
    }


# --- the writer, on either database ------------------------------------------------------------


def test_rows_writer_returns_the_stored_ids_across_chunks():
    before = timezone.now()
    with rows_writer(AuditEvent, chunk=3) as write:
        ids = [write(**audit_values(n)) for n in range(10)]
    after = timezone.now()

    assert len(set(ids)) == 10
    assert ids == sorted(ids)
    stored = {event.pk: event for event in AuditEvent.objects.filter(action="bulk_test")}
    assert set(stored) == set(ids)
    for n, pk in enumerate(ids):
        event = stored[pk]
        assert (event.actor_label, event.object_id, event.request_id) == (
            f"bulk-{n}",
            str(n),
            f"req-{n}",
        )
        assert event.ip_address == "10.0.0.7"
        assert event.details == {"n": n, "tags": ["甲", "乙"]}
        assert event.actor_id is None
        assert before <= event.at <= after  # auto_now_add: the time of the write


def test_rows_writer_fills_defaults_and_nulls_and_keeps_given_ids():
    resident = ResidentFactory()
    institution = InstitutionFactory()
    with rows_writer(Encounter) as write:
        first = write(
            resident_id=resident.pk,
            institution_id=institution.pk,
            kind="outpatient",
            started_at=STARTED,
        )
        given = first + 1000
        second = write(
            id=given,
            resident_id=resident.pk,
            institution_id=institution.pk,
            kind="emergency",
            started_at=STARTED,
            source="demo",
        )

    assert second == given
    one, two = Encounter.objects.get(pk=first), Encounter.objects.get(pk=given)
    assert one.source == "manual"  # the field's default
    assert (one.department_id, one.ended_at) == (None, None)  # nullable, not given
    assert isinstance(one.public_id, uuid.UUID)
    assert one.public_id != two.public_id  # a callable default is called per row
    assert two.source == "demo"


def test_rows_writer_refuses_a_missing_required_value():
    resident = ResidentFactory()
    with pytest.raises(TypeError, match=r"Encounter\.kind: no value and no default"):  # noqa: SIM117
        with rows_writer(Encounter) as write:
            write(resident_id=resident.pk, institution_id=resident.registered_by_id)


def test_rows_writer_refuses_a_field_the_model_does_not_have():
    resident = ResidentFactory()
    with pytest.raises(TypeError, match="no field"), rows_writer(ResidentPopulationTag) as write:
        write(resident=resident.pk, population="diabetes")  # `resident_id` is the attname
    assert not ResidentPopulationTag.objects.exists()


def test_objects_insert_sets_pks_stamps_times_and_leaves_saved_instances():
    events = [AuditEvent(**audit_values(n)) for n in range(5)]
    before = timezone.now()

    objects_insert(AuditEvent, events)

    after = timezone.now()
    assert all(event.pk is not None for event in events)
    assert [event.pk for event in events] == sorted(event.pk for event in events)
    for n, event in enumerate(events):
        assert not event._state.adding
        assert before <= event.at <= after
        stored = AuditEvent.objects.get(pk=event.pk)
        assert (stored.object_id, stored.details, stored.at) == (
            str(n),
            {"n": n, "tags": ["甲", "乙"]},
            event.at,
        )
    # Saved instances: an update goes to the same row.
    events[0].actor_label = "changed"
    events[0].save(update_fields=["actor_label"])
    assert AuditEvent.objects.get(pk=events[0].pk).actor_label == "changed"


def test_objects_insert_of_nothing_writes_nothing():
    objects_insert(AuditEvent, [])
    assert not AuditEvent.objects.filter(action="bulk_test").exists()


def test_ids_reserve_refuses_a_negative_count_and_gives_none_for_zero():
    with pytest.raises(ValueError, match="-1"):
        ids_reserve(AuditEvent, -1)
    assert ids_reserve(AuditEvent, 0) == []


# --- SQLite: the fallback ----------------------------------------------------------------------


@pytest.fixture
def sqlite(db):
    if connection.vendor != "sqlite":
        pytest.skip("the fallback path (bulk_create) runs on SQLite")


def test_sqlite_ids_are_the_ones_after_the_largest(sqlite):
    events = [AuditEvent(**audit_values(n)) for n in range(3)]
    objects_insert(AuditEvent, events)
    largest = events[-1].pk

    assert ids_reserve(AuditEvent, 4) == [largest + 1, largest + 2, largest + 3, largest + 4]


def test_sqlite_rows_writer_reserves_again_after_a_chunk_is_used(sqlite):
    AuditEvent.objects.create(**audit_values(0))
    largest = AuditEvent.objects.latest("pk").pk

    with rows_writer(AuditEvent, chunk=2) as write:
        ids = [write(**audit_values(n)) for n in range(1, 6)]

    assert ids == [largest + 1, largest + 2, largest + 3, largest + 4, largest + 5]


# --- PostgreSQL: COPY --------------------------------------------------------------------------


def table_columns(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s",
            [table],
        )
        return sorted(row[0] for row in cursor.fetchall())


@pytest.mark.postgres
def test_copy_writes_every_column_of_every_table():
    """The columns COPY lists are the table's columns, for every model of the project (through
    tables included): a field added by a migration is written, not silently skipped."""
    models = [
        model
        for label in PROJECT_APPS
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    ]
    assert len(models) > 20

    for model in models:
        columns = copy_columns(model)
        assert len(columns) == len(set(columns)), model
        assert sorted(columns) == table_columns(model._meta.db_table), model


@pytest.mark.postgres
def test_copy_round_trips_every_column_of_an_encounter():
    resident = ResidentFactory()
    department = DepartmentFactory()
    public_id = uuid.UUID("5b1f0c6e-2d7a-4c1e-9a51-3f0e8d2b7c44")
    ended = STARTED + dt.timedelta(minutes=25)
    with rows_writer(Encounter) as write:
        pk = write(
            public_id=public_id,
            resident_id=resident.pk,
            institution_id=department.institution_id,
            department_id=department.pk,
            kind="inpatient",
            started_at=STARTED,
            ended_at=ended,
            admitted_at=STARTED,
            discharged_at=ended,
            source="demo",
        )

    assert Encounter.objects.filter(pk=pk).values().get() == {
        "id": pk,
        "public_id": public_id,
        "resident_id": resident.pk,
        "institution_id": department.institution_id,
        "department_id": department.pk,
        "kind": "inpatient",
        "started_at": STARTED,
        "ended_at": ended,
        "admitted_at": STARTED,
        "discharged_at": ended,
        "source": "demo",
    }


@pytest.mark.postgres
def test_ids_come_from_the_sequence_and_are_never_handed_out_twice():
    first = ids_reserve(AuditEvent, 5)
    with transaction.atomic():
        rolled_back = ids_reserve(AuditEvent, 3)
        transaction.set_rollback(True)
    later = ids_reserve(AuditEvent, 2)
    created = AuditEvent.objects.create(**audit_values(9))

    everything = [*first, *rolled_back, *later, created.pk]
    assert len(set(everything)) == 11
    assert first == sorted(first)
    assert max(first) < min(rolled_back)
    assert max(rolled_back) < min(later) < created.pk


@pytest.mark.postgres
def test_a_key_without_a_sequence_is_refused():
    with pytest.raises(ValueError, match="Session: its primary key has no sequence"):
        ids_reserve(Session, 2)


def secondary_indexes(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE %s",
            [table, "%_pkey"],
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.postgres
def test_an_empty_table_loads_without_its_indexes_which_come_back():
    resident = ResidentFactory()
    table = ResidentPopulationTag._meta.db_table
    indexes = secondary_indexes(table)
    assert indexes

    with (
        constraints_immediate(),
        rows_writer(ResidentPopulationTag, build_indexes_after=True) as write,
    ):
        write(resident_id=resident.pk, population="diabetes")
        assert secondary_indexes(table) == set()  # dropped while loading
    assert secondary_indexes(table) == indexes

    # A table with rows keeps its indexes throughout.
    other = ResidentFactory()
    with (
        constraints_immediate(),
        rows_writer(ResidentPopulationTag, build_indexes_after=True) as write,
    ):
        write(resident_id=other.pk, population="hypertension")
        assert secondary_indexes(table) == indexes
    assert ResidentPopulationTag.objects.count() == 2
