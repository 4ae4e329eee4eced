"""The demo generator: deterministic, valid and unique ID numbers, a realistic city, visits that
reference what exists, and a command that refuses what it should (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from stdnum.cn import ric

from demo.generator import DemoDataExists, NetworkMissing, generate_demo
from demo.network import district_population
from healthnet.models import (
    AGE_DERIVED_POPULATIONS,
    Department,
    Encounter,
    EncounterKind,
    Institution,
    KeyPopulation,
    Practitioner,
    PractitionerRole,
    Resident,
    ResidentPopulationTag,
    Tier,
    UserRole,
)
from healthnet.national_id import decrypt_national_id, national_id_hash, parse_national_id
from healthnet.populations import age_on
from referrals.models import Referral
from signing.models import Contract, FamilyDoctorTeam
from tests.factories import DepartmentFactory, InstitutionFactory

TODAY = dt.date(2026, 11, 29)
DISTRICTS = ("haibowan", "wuda", "hainan")


@pytest.fixture
def network(db):
    """A small city: 1 tertiary, 1 specialist, a district hospital and two primary institutions
    per district, each with departments."""
    hospitals = [
        InstitutionFactory(code="t-renmin", tier=Tier.TERTIARY, district="haibowan", beds=60),
        InstitutionFactory(
            code="s-mental",
            tier=Tier.SPECIALIST,
            category="mental_health",
            district="wuda",
            beds=30,
        ),
    ]
    primaries = []
    for district in DISTRICTS:
        hospitals.append(
            InstitutionFactory(code=f"d-{district}", tier=Tier.DISTRICT, district=district, beds=40)
        )
        for n in (1, 2):
            primaries.append(
                InstitutionFactory(
                    code=f"p-{district}-{n}", tier=Tier.PRIMARY, district=district, beds=10
                )
            )
    for hospital in hospitals:
        for code, specialty in [("internal", "internal_medicine"), ("emergency", "emergency")]:
            DepartmentFactory(institution=hospital, code=code, specialty=specialty)
    for primary in primaries:
        for code, specialty in [("general", "general_practice"), ("tcm", "tcm")]:
            DepartmentFactory(institution=primary, code=code, specialty=specialty)
    return hospitals + primaries


def run(residents=300, seed=7, **options):
    """The base city only: the signing and referral stages have their own tests."""
    options.setdefault("later_stages", ())
    return generate_demo(residents=residents, seed=seed, today=TODAY, **options)


def identities() -> list[tuple]:
    return [
        (decrypt_national_id(r.national_id_encrypted), r.name, r.sex, r.birth_date, r.district_id)
        for r in Resident.objects.order_by("id")
    ]


def wipe_demo_data() -> None:
    Encounter.objects.all().delete()
    ResidentPopulationTag.objects.all().delete()
    Resident.objects.all().delete()
    Department.objects.update(head=None)
    PractitionerRole.objects.all().delete()
    Practitioner.objects.all().delete()


# --- determinism -----------------------------------------------------------------------------


def test_same_seed_gives_the_same_residents_and_visits(network):
    run(seed=7)
    first = identities()
    first_visits = list(
        Encounter.objects.order_by("id").values_list("public_id", "kind", "started_at")
    )
    first_staff = list(Practitioner.objects.order_by("id").values_list("name", "license_number"))
    wipe_demo_data()

    run(seed=7)

    assert identities() == first
    assert (
        list(Encounter.objects.order_by("id").values_list("public_id", "kind", "started_at"))
        == first_visits
    )
    assert (
        list(Practitioner.objects.order_by("id").values_list("name", "license_number"))
        == first_staff
    )


def test_another_seed_gives_other_residents(network):
    run(seed=7)
    first = identities()
    wipe_demo_data()

    run(seed=8)

    second = identities()
    assert len(second) == len(first) == 300
    assert len({row[0] for row in first} & {row[0] for row in second}) < 5
    assert [row[1] for row in first] != [row[1] for row in second]


# --- residents -------------------------------------------------------------------------------


def test_national_ids_are_valid_unique_and_match_the_resident(network):
    run(residents=600)

    residents = list(Resident.objects.all())
    numbers = [decrypt_national_id(r.national_id_encrypted) for r in residents]
    assert len(set(numbers)) == 600
    for resident, number in zip(residents, numbers, strict=True):
        assert ric.is_valid(number), number
        parsed = parse_national_id(number)
        assert parsed.birth_date == resident.birth_date
        assert parsed.sex == resident.sex
        assert resident.national_id_hash == national_id_hash(number)
        assert resident.birth_date <= TODAY
        if parsed.region_code.startswith("1503"):
            # Wuhai's district codes exist from 1983; before that the city code.
            expected_city_code = resident.birth_date.year < 1983
            assert (parsed.region_code == "150300") == expected_city_code
    regions = Counter(n[:6] for n in numbers)
    born_elsewhere = sum(count for code, count in regions.items() if not code.startswith("1503"))
    assert 0.05 < born_elsewhere / 600 < 0.30


def test_residents_look_like_the_city(network):
    run(residents=1500)

    residents = list(Resident.objects.all())
    n = len(residents)
    weights = district_population()
    total_weight = sum(weights.values())
    by_district = Counter(r.district_id for r in residents)
    for district, weight in weights.items():
        assert abs(by_district[district] / n - weight / total_weight) < 0.05, district
    males = sum(r.sex == "male" for r in residents)
    assert 0.45 < males / n < 0.56
    ages = [age_on(r.birth_date, TODAY) for r in residents]
    assert 0.12 < sum(a >= 65 for a in ages) / n < 0.21
    assert 0.04 < sum(a <= 6 for a in ages) / n < 0.10
    assert max(ages) <= 100
    assert all(r.name and 2 <= len(r.name) <= 4 for r in residents)
    assert all(r.phone.startswith("1") and len(r.phone) == 11 for r in residents)
    assert all(r.community.endswith("社区") for r in residents)
    # Each resident is registered with a primary institution of their own district.
    registered = {i.id: i for i in Institution.objects.all()}
    assert all(registered[r.registered_by_id].tier == Tier.PRIMARY for r in residents)
    assert all(registered[r.registered_by_id].district_id == r.district_id for r in residents)


def test_tags_are_registry_populations_at_plausible_prevalence(network):
    run(residents=1500)

    residents = {r.id: r for r in Resident.objects.all()}
    tags = list(ResidentPopulationTag.objects.all())
    populations = Counter(tag.population for tag in tags)
    assert not set(populations) & AGE_DERIVED_POPULATIONS
    assert set(populations) <= {p.value for p in KeyPopulation}
    adults = [r for r in residents.values() if age_on(r.birth_date, TODAY) >= 18]
    assert 0.18 < populations[KeyPopulation.HYPERTENSION] / len(adults) < 0.34
    assert 0.05 < populations[KeyPopulation.DIABETES] / len(adults) < 0.15
    assert 0.03 < populations[KeyPopulation.DISABLED] / len(residents) < 0.10
    for tag in tags:
        resident = residents[tag.resident_id]
        age = age_on(resident.birth_date, TODAY)
        if tag.population in (KeyPopulation.HYPERTENSION, KeyPopulation.DIABETES):
            assert age >= 18
        if tag.population == KeyPopulation.PREGNANT:
            assert resident.sex == "female"
            assert 20 <= age <= 40


# --- practitioners ---------------------------------------------------------------------------


def test_every_institution_is_staffed_with_department_heads(network):
    run(residents=50)

    for institution in Institution.objects.all():
        roles = Counter(
            PractitionerRole.objects.filter(institution=institution).values_list("role", flat=True)
        )
        assert roles[UserRole.DOCTOR] > 0
        assert roles[UserRole.NURSE] > 0
        assert roles[UserRole.REFERRAL_COORDINATOR] >= 1
        assert roles[UserRole.CLERK] >= 1
        assert roles[UserRole.PHARMACIST] >= 1
        assert roles[UserRole.PUBLIC_HEALTH] >= 1
        if institution.tier == Tier.PRIMARY:
            assert 20 <= sum(roles.values()) <= 60
        else:
            assert roles[UserRole.DOCTOR] == max(10, round(institution.beds / 2))
    for department in Department.objects.all():
        assert department.head_id is not None
        # Clinical departments are headed by one of their own doctors.
        assert PractitionerRole.objects.filter(
            practitioner_id=department.head_id, department=department, role=UserRole.DOCTOR
        ).exists()
    pharmacy = DepartmentFactory(
        institution=InstitutionFactory(code="t-second", tier=Tier.TERTIARY, beds=40),
        code="pharmacy",
        specialty="pharmacy",
    )
    DepartmentFactory(institution=pharmacy.institution, code="internal", specialty="internal")
    wipe_demo_data()
    run(residents=10)
    pharmacy.refresh_from_db()
    assert PractitionerRole.objects.filter(
        practitioner_id=pharmacy.head_id, department=pharmacy, role=UserRole.PHARMACIST
    ).exists()
    assert not PractitionerRole.objects.filter(
        department=pharmacy, role__in=[UserRole.DOCTOR, UserRole.NURSE]
    ).exists()


# --- encounters ------------------------------------------------------------------------------


def test_encounters_reference_the_network_and_keep_to_the_year(network):
    run(residents=600)

    encounters = list(Encounter.objects.select_related("institution", "department", "resident"))
    assert 0.85 * 3.6 * 600 < len(encounters) < 1.15 * 3.6 * 600
    kinds = Counter(e.kind for e in encounters)
    assert kinds[EncounterKind.OUTPATIENT] > 5 * kinds[EncounterKind.EMERGENCY]
    assert kinds[EncounterKind.EMERGENCY] > kinds[EncounterKind.INPATIENT] > 0
    year_ago = dt.datetime(2025, 11, 29, tzinfo=dt.UTC) - dt.timedelta(hours=8)
    today_start = dt.datetime(2026, 11, 29, tzinfo=dt.UTC) - dt.timedelta(hours=8)
    for encounter in encounters:
        assert encounter.department is None or encounter.department.institution_id == (
            encounter.institution_id
        )
        assert year_ago <= encounter.started_at < today_start
        assert encounter.ended_at is None or encounter.ended_at >= encounter.started_at
        if encounter.kind != EncounterKind.INPATIENT:
            assert encounter.ended_at is not None
            assert encounter.admitted_at is None
            assert encounter.source in {"demo", "scan"}  # registered by scanning the code
        else:  # a stay: admitted on arrival, discharged when it ended (if it has)
            assert encounter.admitted_at == encounter.started_at
            assert encounter.discharged_at == encounter.ended_at
            assert encounter.source == "demo"
    scanned = [e for e in encounters if e.source == "scan"]
    assert 0.25 < len(scanned) / (len(encounters) - kinds[EncounterKind.INPATIENT]) < 0.55
    # adoption grows over the year
    half_year = today_start - dt.timedelta(days=182)
    early = [e for e in encounters if e.started_at < half_year and e.kind != "inpatient"]
    late = [e for e in encounters if e.started_at >= half_year and e.kind != "inpatient"]
    share = [sum(e.source == "scan" for e in group) / len(group) for group in (early, late)]
    assert share[0] < share[1]
    # Emergencies at a hospital go to its emergency department.
    emergency_departments = set(
        Department.objects.filter(code="emergency").values_list("id", flat=True)
    )
    hospital_emergencies = [
        e
        for e in encounters
        if e.kind == EncounterKind.EMERGENCY and e.institution.tier != Tier.PRIMARY
    ]
    assert hospital_emergencies
    assert {e.department_id for e in hospital_emergencies} <= emergency_departments


def test_primary_share_and_district_loyalty(network):
    run(residents=1500)

    encounters = list(Encounter.objects.select_related("institution", "resident"))
    primary = [e for e in encounters if e.institution.tier == Tier.PRIMARY]
    assert 0.55 <= len(primary) / len(encounters) <= 0.65
    in_district = sum(e.institution.district_id == e.resident.district_id for e in primary)
    assert in_district / len(primary) > 0.85
    at_home = sum(e.institution_id == e.resident.registered_by_id for e in primary)
    assert at_home / len(primary) > 0.75


def test_encounters_per_resident_scales_the_visits(network):
    run(residents=300, encounters_per_resident=0)

    assert Resident.objects.count() == 300
    assert Encounter.objects.count() == 0


# --- refusals and the command ----------------------------------------------------------------


def test_no_network_is_refused_and_nothing_written(db):
    with pytest.raises(NetworkMissing):
        run()
    with pytest.raises(CommandError, match="load_network"):
        call_command("generate_demo", "--residents=10", "--seed=1", "--no-progress")
    assert Resident.objects.count() == 0
    assert Practitioner.objects.count() == 0


def test_command_generates_and_prints_a_summary(network):
    out = io.StringIO()
    call_command(
        "generate_demo", "--residents=200", "--seed=3", "--today=2026-11-29", "--no-progress",
        stdout=out,
    )  # fmt: skip

    assert Resident.objects.count() == 200
    text = out.getvalue()
    assert "residents" in text
    assert "encounters" in text
    assert "rows/s" in text


def test_if_empty_does_nothing_when_residents_exist(network):
    run(residents=100)
    counts = (Resident.objects.count(), Encounter.objects.count(), Practitioner.objects.count())
    out = io.StringIO()

    call_command("generate_demo", "--residents=100", "--seed=9", "--if-empty", stdout=out)

    assert "nothing to do" in out.getvalue()
    assert (Resident.objects.count(), Encounter.objects.count(), Practitioner.objects.count()) == (
        counts
    )


def test_if_empty_generates_on_an_empty_database(network):
    call_command("generate_demo", "--residents=50", "--seed=9", "--if-empty", stdout=io.StringIO())

    assert Resident.objects.count() == 50


def test_a_populated_database_is_refused_without_append(network):
    run(residents=100)
    counts = (Resident.objects.count(), Encounter.objects.count())

    with pytest.raises(DemoDataExists):
        run(residents=100, seed=8)
    with pytest.raises(CommandError, match="--append"):
        call_command("generate_demo", "--residents=100", "--seed=8", stdout=io.StringIO())

    assert (Resident.objects.count(), Encounter.objects.count()) == counts


def test_append_adds_unique_residents_and_no_more_staff(network):
    run(residents=200, seed=7)
    staff = Practitioner.objects.count()

    # The same seed again: the same numbers come up and must be redrawn.
    run(residents=200, seed=7, append=True)

    assert Resident.objects.count() == 400
    assert Resident.objects.values("national_id_hash").distinct().count() == 400
    assert Practitioner.objects.count() == staff


def test_bad_arguments_are_refused(network):
    with pytest.raises(CommandError):
        call_command("generate_demo", "--residents=-1", "--seed=1", stdout=io.StringIO())
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command(
            "generate_demo", "--residents=1", "--seed=1", "--today=29/11/2026", stdout=io.StringIO()
        )
    assert Resident.objects.count() == 0


# --- later stages ----------------------------------------------------------------------------


def test_the_signing_and_referral_stages_run_after_the_base_city(network):
    summary = generate_demo(residents=300, seed=5, today=TODAY)

    names = [stage.name for stage in summary.stages if stage.name != "analyze"]  # PostgreSQL
    assert names == ["residents", "practitioners", "encounters", "signing", "referrals", "commit"]
    assert summary.rows["family_doctor_teams"] == FamilyDoctorTeam.objects.count() == 92
    assert summary.rows["contracts"] == Contract.objects.count() > 0
    assert summary.rows["referrals"] == Referral.objects.count() > 0


def test_later_stages_see_the_base_data_and_report_counts(network):
    calls = []

    def probe(*, seed, today, log):
        calls.append((seed, today, Resident.objects.count(), Encounter.objects.count()))
        log("probe stage ran")
        return {"probes": 3}

    lines = []
    summary = run(residents=100, seed=5, log=lines.append, later_stages=[("probe", probe)])

    assert len(calls) == 1
    seed, today, residents, encounters = calls[0]
    assert (seed, today, residents) == (5, TODAY, 100)
    assert encounters > 0
    assert summary.rows["probes"] == 3
    assert "probe stage ran" in lines


def test_a_failing_stage_rolls_everything_back(network):
    def broken(*, seed, today, log):
        raise RuntimeError("stage failed")

    with pytest.raises(RuntimeError, match="stage failed"):
        run(residents=100, later_stages=[("broken", broken)])

    assert Resident.objects.count() == 0
    assert Encounter.objects.count() == 0
    assert Practitioner.objects.count() == 0


# --- PostgreSQL: the COPY path ---------------------------------------------------------------


def table_schema(table: str) -> set[tuple[str, str]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass",
            [table],
        )
        constraints = set(cursor.fetchall())
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return constraints | set(cursor.fetchall())


BULK_TABLES = ("healthnet_resident", "healthnet_residentpopulationtag", "healthnet_encounter")


@pytest.mark.postgres
def test_copy_path_writes_valid_linked_rows(network):
    from django.db import connection

    assert connection.vendor == "postgresql"
    schema_before = {table: table_schema(table) for table in BULK_TABLES}

    run(residents=400, seed=11)

    # Indexes and constraints dropped for the load are back, identical.
    assert {table: table_schema(table) for table in BULK_TABLES} == schema_before
    assert all(len(schema) >= 4 for schema in schema_before.values())
    first = identities()

    assert len(first) == 400
    assert len({row[0] for row in first}) == 400
    assert all(ric.is_valid(row[0]) for row in first)
    resident_ids = set(Resident.objects.values_list("id", flat=True))
    assert set(Encounter.objects.values_list("resident_id", flat=True)) <= resident_ids
    assert set(ResidentPopulationTag.objects.values_list("resident_id", flat=True)) <= resident_ids
    assert Encounter.objects.count() > 1000
    # The id sequence was moved past the copied ids: an ordinary insert still works.
    InstitutionFactory(code="after-copy")
    resident = Resident.objects.create(
        national_id_encrypted="x", national_id_hash="y" * 64, name="新居民", sex="male",
        birth_date=dt.date(1990, 1, 1), district_id="wuda",
    )  # fmt: skip
    assert resident.id > max(resident_ids)

    wipe_demo_data()
    run(residents=400, seed=11)
    assert identities() == first
