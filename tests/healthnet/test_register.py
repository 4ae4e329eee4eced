"""The register over time (healthnet.register, docs/design.md §3, §7): moves, deaths and
key-population tags keep their dates; the selectors answer for a given day at its edges; the
database holds the period invariants; admission and discharge; the backfill migration."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
import time_machine
from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models import Count

from healthnet import services
from healthnet.errors import Conflict, Forbidden, InvalidInput, NotFound
from healthnet.models import (
    AuditEvent,
    Encounter,
    ResidentPopulationTag,
    ResidentRegistration,
    UserRole,
)
from healthnet.selectors import (
    inpatient_discharges,
    population_tags_on,
    resident_district_on,
    residents_registered_on,
)
from tests.conftest import api_client_for
from tests.factories import (
    DistrictFactory,
    InstitutionFactory,
    ResidentFactory,
    UserFactory,
    national_id_for,
)

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=SHANGHAI)
D = dt.date


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def wuda(db):
    return DistrictFactory(code="wuda")


@pytest.fixture
def nurse(institution):
    """Key-population tags are health data: set by a role that reads them (not the clerk)."""
    return UserFactory(username="nurse", role=UserRole.NURSE, institution=institution)


@pytest.fixture
def nurse_api(nurse):
    return api_client_for(nurse)


@pytest.fixture
def resident(institution, wuda):
    resident = ResidentFactory(registered_by=institution, district="haibowan")
    ResidentRegistration.objects.create(
        resident=resident, district_id="haibowan", valid_from=D(2020, 1, 1)
    )
    return resident


def _periods(resident) -> list[tuple]:
    return list(
        ResidentRegistration.objects.filter(resident=resident)
        .order_by("valid_from")
        .values_list("district_id", "valid_from", "valid_to", "ended_reason")
    )


def _registered(day) -> dict[str, int]:
    return dict(
        residents_registered_on(day).values_list("district_id").annotate(n=Count("resident_id"))
    )


# --- registration at creation ------------------------------------------------------------------


def test_registering_a_resident_opens_their_first_period_today(nurse_api):
    number = national_id_for(9, birth_date=D(1970, 2, 3))
    response = nurse_api.post(
        "/api/v1/residents",
        {
            "national_id": number,
            "name": "王芳",
            "district": "haibowan",
            "populations": ["diabetes"],
        },
    )
    assert response.status_code == 201, response.content
    resident_id = response.json()["id"]
    assert list(
        ResidentRegistration.objects.filter(resident__public_id=resident_id).values_list(
            "district_id", "valid_from", "valid_to"
        )
    ) == [("haibowan", D(2026, 6, 15), None)]
    tag = ResidentPopulationTag.objects.get(resident__public_id=resident_id)
    assert (tag.population, tag.valid_from, tag.valid_to) == ("diabetes", D(2026, 6, 15), None)
    assert _registered(D(2026, 6, 14)) == {}
    assert _registered(D(2026, 6, 15)) == {"haibowan": 1}


# --- moves ---------------------------------------------------------------------------------------


def test_a_move_between_districts_counts_in_each_district_on_its_days(clerk, resident):
    services.resident_move(actor=clerk, resident=resident, on=D(2026, 4, 1), district="wuda")

    assert _periods(resident) == [
        ("haibowan", D(2020, 1, 1), D(2026, 3, 31), "moved_district"),
        ("wuda", D(2026, 4, 1), None, ""),
    ]
    resident.refresh_from_db()
    assert resident.district_id == "wuda"
    assert _registered(D(2026, 3, 31)) == {"haibowan": 1}
    assert _registered(D(2026, 4, 1)) == {"wuda": 1}
    assert resident_district_on(resident, D(2019, 12, 31)) is None
    assert resident_district_on(resident, D(2020, 1, 1)) == "haibowan"
    assert AuditEvent.objects.filter(
        action="resident_move", object_id=str(resident.public_id), actor=clerk
    ).exists()


def test_moving_away_ends_the_register_the_day_before(clerk, resident):
    services.resident_move(actor=clerk, resident=resident, on=D(2026, 5, 1))

    assert _periods(resident) == [("haibowan", D(2020, 1, 1), D(2026, 4, 30), "moved_away")]
    assert _registered(D(2026, 4, 30)) == {"haibowan": 1}
    assert _registered(D(2026, 5, 1)) == {}
    with pytest.raises(Conflict) as refusal:
        services.resident_move(actor=clerk, resident=resident, on=D(2026, 6, 1))
    assert refusal.value.code == "not_registered"
    # coming back: on a district's register again, not before the day after the last period
    with pytest.raises(InvalidInput):
        services.resident_move(actor=clerk, resident=resident, on=D(2026, 4, 30), district="wuda")
    services.resident_move(actor=clerk, resident=resident, on=D(2026, 6, 1), district="wuda")
    assert _periods(resident)[-1] == ("wuda", D(2026, 6, 1), None, "")
    assert _registered(D(2026, 5, 31)) == {}
    assert _registered(D(2026, 6, 1)) == {"wuda": 1}


def test_a_move_on_the_day_a_period_began_replaces_it(clerk, resident):
    services.resident_move(actor=clerk, resident=resident, on=D(2026, 4, 1), district="wuda")
    services.resident_move(actor=clerk, resident=resident, on=D(2026, 4, 1), district="haibowan")
    assert _periods(resident) == [
        ("haibowan", D(2020, 1, 1), D(2026, 3, 31), "moved_district"),
        ("haibowan", D(2026, 4, 1), None, ""),
    ]


@pytest.mark.parametrize(
    ("on", "district", "code"),
    [
        (D(2026, 6, 16), "wuda", "date_in_future"),
        (D(2019, 12, 31), "wuda", "date_too_early"),
        (D(2026, 4, 1), "haibowan", "same_district"),
        (D(2026, 4, 1), "nowhere", "district_unknown"),
    ],
)
def test_bad_moves_are_refused_and_change_nothing(clerk, resident, on, district, code):
    before = _periods(resident)
    with pytest.raises(InvalidInput) as refusal:
        services.resident_move(actor=clerk, resident=resident, on=on, district=district)
    assert refusal.value.code == code
    assert _periods(resident) == before


def test_the_move_api_answers_the_resident_and_refuses_out_of_scope_and_roles(
    clerk_api, resident, wuda
):
    url = f"/api/v1/residents/{resident.public_id}/move"
    response = clerk_api.post(url, {"on": "2026-04-01", "district": "wuda"})
    assert response.status_code == 200, response.content
    assert response.json()["district"] == "wuda"

    bad = clerk_api.post(url, {"on": "2026-07-01", "district": "haibowan"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "date_in_future"

    elsewhere = UserFactory(
        username="clerk2", role=UserRole.CLERK, institution=InstitutionFactory(code="wh-p-other")
    )
    assert api_client_for(elsewhere).post(url, {"on": "2026-05-01"}).status_code == 404
    pharmacist = UserFactory(
        username="pharm", role=UserRole.PHARMACIST, institution=resident.registered_by
    )
    assert api_client_for(pharmacist).post(url, {"on": "2026-05-01"}).status_code == 403
    assert _periods(resident)[-1] == ("wuda", D(2026, 4, 1), None, "")

    listed = clerk_api.get(f"/api/v1/residents/{resident.public_id}/registrations")
    assert listed.json() == [
        {
            "district": "haibowan",
            "valid_from": "2020-01-01",
            "valid_to": "2026-03-31",
            "ended_reason": "moved_district",
        },
        {"district": "wuda", "valid_from": "2026-04-01", "valid_to": None, "ended_reason": None},
    ]


# --- deaths --------------------------------------------------------------------------------------


def test_a_death_ends_the_register_and_the_tags_that_day(clerk, nurse, resident):
    services.population_tag_add(
        actor=nurse, resident=resident, population="hypertension", on=D(2024, 3, 1)
    )
    services.resident_death_record(actor=clerk, resident=resident, died_on=D(2026, 5, 31))

    resident.refresh_from_db()
    assert resident.died_on == D(2026, 5, 31)
    assert _periods(resident) == [("haibowan", D(2020, 1, 1), D(2026, 5, 31), "died")]
    assert _registered(D(2026, 5, 31)) == {"haibowan": 1}  # the day of death still counts
    assert _registered(D(2026, 6, 1)) == {}
    assert list(population_tags_on(D(2026, 5, 31)).values_list("population", flat=True)) == [
        "hypertension"
    ]
    assert not population_tags_on(D(2026, 6, 1)).exists()
    with pytest.raises(Conflict) as again:
        services.resident_death_record(actor=clerk, resident=resident, died_on=D(2026, 6, 1))
    assert again.value.code == "resident_deceased"
    with pytest.raises(Conflict):
        services.resident_move(actor=clerk, resident=resident, on=D(2026, 6, 2), district="wuda")


def test_a_death_before_the_birth_or_in_the_future_is_refused(clerk, resident):
    for day, code in [(D(2026, 6, 16), "date_in_future"), (D(1940, 1, 1), "date_too_early")]:
        with pytest.raises(InvalidInput) as refusal:
            services.resident_death_record(actor=clerk, resident=resident, died_on=day)
        assert refusal.value.code == code
    resident.refresh_from_db()
    assert resident.died_on is None


def test_the_death_api(clerk_api, resident):
    response = clerk_api.post(
        f"/api/v1/residents/{resident.public_id}/death", {"died_on": "2026-06-01"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["died_on"] == "2026-06-01"
    again = clerk_api.post(
        f"/api/v1/residents/{resident.public_id}/death", {"died_on": "2026-06-02"}
    )
    assert (again.status_code, again.json()["code"]) == (409, "resident_deceased")


# --- key-population tags -------------------------------------------------------------------------


def test_tags_have_periods_and_the_day_selector_reads_them_at_the_edges(nurse, resident):
    services.population_tag_add(
        actor=nurse, resident=resident, population="pregnant", on=D(2025, 9, 1)
    )
    services.population_tag_end(
        actor=nurse, resident=resident, population="pregnant", on=D(2026, 6, 1)
    )
    tag = ResidentPopulationTag.objects.get(resident=resident)
    assert (tag.valid_from, tag.valid_to) == (D(2025, 9, 1), D(2026, 5, 31))
    assert not population_tags_on(D(2025, 8, 31)).exists()
    assert population_tags_on(D(2025, 9, 1)).count() == 1
    assert population_tags_on(D(2026, 5, 31)).count() == 1
    assert not population_tags_on(D(2026, 6, 1)).exists()
    # a second pregnancy later: a new row, the history stays
    services.population_tag_add(
        actor=nurse, resident=resident, population="pregnant", on=D(2026, 6, 10)
    )
    assert ResidentPopulationTag.objects.filter(resident=resident).count() == 2
    with pytest.raises(Conflict):
        services.population_tag_add(
            actor=nurse, resident=resident, population="pregnant", on=D(2026, 6, 12)
        )


def test_a_tag_without_a_start_counts_for_every_past_day(resident):
    ResidentPopulationTag.objects.create(resident=resident, population="diabetes")
    assert population_tags_on(D(1990, 1, 1)).count() == 1


def test_ending_a_tag_on_its_first_day_removes_it_and_age_groups_are_refused(nurse, resident):
    services.population_tag_add(
        actor=nurse, resident=resident, population="disabled", on=D(2026, 6, 1)
    )
    assert (
        services.population_tag_end(
            actor=nurse, resident=resident, population="disabled", on=D(2026, 6, 1)
        )
        is None
    )
    assert not ResidentPopulationTag.objects.filter(resident=resident).exists()
    with pytest.raises(InvalidInput) as refusal:
        services.population_tag_add(
            actor=nurse, resident=resident, population="elderly_65", on=D(2026, 6, 1)
        )
    assert refusal.value.code == "population_derived"
    with pytest.raises(NotFound):
        services.population_tag_end(
            actor=nurse, resident=resident, population="disabled", on=D(2026, 6, 2)
        )


def test_the_populations_api_sets_tags_from_a_day(nurse_api, resident):
    ResidentPopulationTag.objects.create(resident=resident, population="low_income")
    url = f"/api/v1/residents/{resident.public_id}/populations"
    response = nurse_api.post(url, {"populations": ["diabetes"], "on": "2026-06-01"})
    assert response.status_code == 200, response.content
    assert response.json()["key_populations"] == ["diabetes", "elderly_65"]  # born in 1950
    assert sorted(
        ResidentPopulationTag.objects.filter(resident=resident).values_list(
            "population", "valid_from", "valid_to"
        )
    ) == [("diabetes", D(2026, 6, 1), None), ("low_income", None, D(2026, 5, 31))]
    derived = nurse_api.post(url, {"populations": ["child_0_6"], "on": "2026-06-01"})
    assert (derived.status_code, derived.json()["code"]) == (422, "population_derived")
    unknown = nurse_api.post(url, {"populations": ["vampire"], "on": "2026-06-01"})
    assert unknown.status_code == 422
    assert ResidentPopulationTag.objects.filter(resident=resident).count() == 2


# --- least privilege: health tags are written only by who reads them ------------------------------


@pytest.mark.parametrize("role", [UserRole.CLERK, UserRole.INSTITUTION_ADMIN])
def test_a_role_that_does_not_read_health_tags_may_not_set_them(institution, resident, role):
    user = UserFactory(role=role, institution=institution)
    api = api_client_for(user)
    before = set(ResidentPopulationTag.objects.values_list("pk", "population", "valid_to"))

    created = api.post(
        "/api/v1/residents",
        {
            "national_id": national_id_for(11, birth_date=D(1980, 1, 2)),
            "name": "李强",
            "district": "haibowan",
            "populations": ["hypertension"],
        },
    )
    assert (created.status_code, created.json()["code"]) == (403, "populations_forbidden")
    assert not ResidentRegistration.objects.filter(resident__name="李强").exists()
    url = f"/api/v1/residents/{resident.public_id}/populations"
    cleared = api.post(url, {"populations": [], "on": "2026-06-01"})
    assert (cleared.status_code, cleared.json()["code"]) == (403, "populations_forbidden")
    with pytest.raises(Forbidden):
        services.population_tag_add(
            actor=user, resident=resident, population="disabled", on=D(2026, 6, 1)
        )
    assert set(ResidentPopulationTag.objects.values_list("pk", "population", "valid_to")) == before
    # Without tags the desk registers as before.
    plain = api.post(
        "/api/v1/residents",
        {
            "national_id": national_id_for(12, birth_date=D(1981, 1, 2)),
            "name": "李明",
            "district": "haibowan",
        },
    )
    assert plain.status_code == 201, plain.content


def test_the_register_changes_answer_the_view_the_caller_reads(clerk_api, nurse_api, resident):
    """A clerk records a move and a death (the desk's work) and reads back the identity view: no
    phone, address or health tags; a nurse reads the clinical view."""
    moved = clerk_api.post(
        f"/api/v1/residents/{resident.public_id}/move", {"on": "2026-04-01", "district": "wuda"}
    )
    assert moved.status_code == 200, moved.content
    assert not {"phone", "address", "key_populations"} & set(moved.json())
    tagged = nurse_api.post(
        f"/api/v1/residents/{resident.public_id}/populations",
        {"populations": ["diabetes"], "on": "2026-06-01"},
    )
    assert "diabetes" in tagged.json()["key_populations"]
    died = clerk_api.post(
        f"/api/v1/residents/{resident.public_id}/death", {"died_on": "2026-06-10"}
    )
    assert died.status_code == 200, died.content
    assert "key_populations" not in died.json()


# --- the database keeps the invariants -----------------------------------------------------------


def test_the_database_refuses_reversed_periods_and_a_second_open_one(resident):
    with pytest.raises(IntegrityError), transaction.atomic():
        ResidentRegistration.objects.filter(resident=resident).update(
            valid_to=D(2019, 1, 1), ended_reason="moved_away"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ResidentRegistration.objects.create(
            resident=resident, district_id="wuda", valid_from=D(2021, 1, 1)
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ResidentPopulationTag.objects.create(
            resident=resident,
            population="diabetes",
            valid_from=D(2026, 1, 2),
            valid_to=D(2026, 1, 1),
        )


def test_residents_registered_on_groups_in_one_query(resident, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert _registered(D(2026, 1, 1)) == {"haibowan": 1}


# --- inpatient stays -----------------------------------------------------------------------------


@pytest.fixture
def stay(institution, resident):
    return Encounter.objects.create(
        resident=resident,
        institution=institution,
        kind="outpatient",
        started_at=dt.datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI),
    )


def test_admission_and_discharge(clerk, stay):
    services.inpatient_admit(
        actor=clerk, encounter=stay, at=dt.datetime(2026, 6, 1, 11, tzinfo=SHANGHAI)
    )
    with pytest.raises(InvalidInput) as early:
        services.inpatient_discharge(
            actor=clerk, encounter=stay, at=dt.datetime(2026, 6, 1, 10, tzinfo=SHANGHAI)
        )
    assert early.value.code == "time_too_early"
    discharged = services.inpatient_discharge(
        actor=clerk,
        encounter=stay,
        at=dt.datetime(2026, 6, 30, 23, 59, tzinfo=SHANGHAI) - dt.timedelta(days=16),
    )
    assert discharged.kind == "inpatient"
    assert discharged.ended_at == discharged.discharged_at
    with pytest.raises(Conflict) as twice:
        services.inpatient_discharge(actor=clerk, encounter=stay)
    assert twice.value.code == "already_discharged"
    assert AuditEvent.objects.filter(action="inpatient_discharge", actor=clerk).count() == 1


def test_a_discharge_needs_an_admission_and_the_database_keeps_the_order(clerk, stay):
    with pytest.raises(Conflict) as refusal:
        services.inpatient_discharge(actor=clerk, encounter=stay)
    assert refusal.value.code == "not_admitted"
    with pytest.raises(IntegrityError), transaction.atomic():
        Encounter.objects.filter(pk=stay.pk).update(
            kind="inpatient",
            admitted_at=stay.started_at,
            discharged_at=stay.started_at - dt.timedelta(minutes=1),
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Encounter.objects.filter(pk=stay.pk).update(admitted_at=stay.started_at)  # outpatient


def test_discharges_of_a_month_at_shanghai_midnights(institution, resident):
    def discharged(at):
        return Encounter.objects.create(
            resident=resident,
            institution=institution,
            kind="inpatient",
            started_at=at - dt.timedelta(days=3),
            admitted_at=at - dt.timedelta(days=3),
            discharged_at=at,
            ended_at=at,
        )

    last_of_march = discharged(dt.datetime(2026, 3, 31, 23, 59, tzinfo=SHANGHAI))
    first_of_april = discharged(dt.datetime(2026, 4, 1, 0, 0, tzinfo=SHANGHAI))
    march = inpatient_discharges(
        dt.datetime(2026, 3, 1, tzinfo=SHANGHAI), dt.datetime(2026, 4, 1, tzinfo=SHANGHAI)
    )
    april = inpatient_discharges(
        dt.datetime(2026, 4, 1, tzinfo=SHANGHAI), dt.datetime(2026, 5, 1, tzinfo=SHANGHAI)
    )
    assert list(march) == [last_of_march]
    assert list(april) == [first_of_april]


def test_the_ward_api_admits_and_discharges_at_the_callers_institution(institution, stay):
    nurse = UserFactory(username="ward", role=UserRole.NURSE, institution=institution)
    base = f"/api/v1/residents/{stay.resident.public_id}/encounters/{stay.public_id}"
    client = api_client_for(nurse)
    admitted = client.post(f"{base}/admit", {"at": "2026-06-01T10:00:00+08:00"})
    assert admitted.status_code == 200, admitted.content
    assert admitted.json()["kind"] == "inpatient"
    done = client.post(f"{base}/discharge", {})
    assert done.status_code == 200
    assert done.json()["discharged_at"] is not None

    other = UserFactory(
        username="ward2", role=UserRole.NURSE, institution=InstitutionFactory(code="wh-h-2")
    )
    assert api_client_for(other).post(f"{base}/discharge", {}).status_code == 404
    public_health = UserFactory(username="ph", role=UserRole.PUBLIC_HEALTH, institution=institution)
    assert api_client_for(public_health).post(f"{base}/admit", {}).status_code == 403


# --- the backfill --------------------------------------------------------------------------------


def test_the_backfill_registers_each_resident_from_birth_and_leaves_tags_undated(institution):
    old = ResidentFactory(registered_by=institution, birth_date=D(1961, 7, 8), district="wuda")
    ResidentPopulationTag.objects.create(resident=old, population="hypertension")
    backfill = importlib.import_module("healthnet.migrations.0008_backfill_register").backfill
    backfill(apps, None)
    backfill(apps, None)  # a second run adds nothing
    assert _periods(old) == [("wuda", D(1961, 7, 8), None, "")]
    assert ResidentPopulationTag.objects.get(resident=old).valid_from is None
