"""`load_network`: the Wuhai file loads the 1+5+4+16 network, a re-run changes nothing, a bad file
is refused with its line and field and writes nothing, a changed file updates what changed."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections import Counter
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from healthnet.models import (
    Alliance,
    AllianceKind,
    AllianceMembership,
    AuditEvent,
    Department,
    Institution,
    Tier,
)
from healthnet.network_loader import (
    NetworkFileInvalid,
    district_population,
    network_file_parse,
    network_load,
)

WUHAI = Path(settings.BASE_DIR) / "data" / "wuhai.yaml"
WUHAI_TEXT = WUHAI.read_text(encoding="utf-8")

pytestmark = pytest.mark.django_db


def load(path: Path | str, *args: str) -> str:
    out = io.StringIO()
    call_command("load_network", str(path), *args, stdout=out)
    return out.getvalue()


def write(tmp_path: Path, text: str, name: str = "network.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def snapshot() -> dict[str, list[dict]]:
    """Every column of every network row: equal snapshots mean nothing was written."""
    return {
        "institutions": list(Institution.objects.order_by("pk").values()),
        "departments": list(Department.objects.order_by("pk").values()),
        "alliances": list(Alliance.objects.order_by("pk").values()),
        "memberships": list(AllianceMembership.objects.order_by("pk").values()),
    }


def row_counts() -> dict[str, int]:
    return {
        "institutions": Institution.objects.count(),
        "departments": Department.objects.count(),
        "alliances": Alliance.objects.count(),
        "memberships": AllianceMembership.objects.count(),
        "load_audits": AuditEvent.objects.filter(action="network_load").count(),
    }


EMPTY = {
    "institutions": 0,
    "departments": 0,
    "alliances": 0,
    "memberships": 0,
    "load_audits": 0,
}


def current_members(alliance: Alliance) -> list[AllianceMembership]:
    return list(alliance.memberships.filter(end_date__isnull=True).select_related("institution"))


# --- the Wuhai network -------------------------------------------------------------------------


def test_wuhai_loads_one_five_four_sixteen():
    output = load(WUHAI)

    assert Institution.objects.count() == 26
    assert Counter(Institution.objects.values_list("tier", flat=True)) == {
        Tier.TERTIARY: 1,
        Tier.SPECIALIST: 5,
        Tier.DISTRICT: 4,
        Tier.PRIMARY: 16,
    }
    assert not Institution.objects.filter(active=False).exists()
    renmin = Institution.objects.get(tier=Tier.TERTIARY)
    assert (renmin.name, renmin.grade, renmin.is_sample_name) == (
        "乌海市人民医院",
        "三级甲等",
        False,
    )
    mengzhong = Institution.objects.get(name="乌海市蒙医中医医院")
    assert (mengzhong.tier, mengzhong.is_sample_name) == (Tier.SPECIALIST, False)
    # every other name is a sample, flagged as such
    assert Institution.objects.filter(is_sample_name=True).count() == 24
    primary_by_district = Counter(
        Institution.objects.filter(tier=Tier.PRIMARY).values_list("district", flat=True)
    )
    assert primary_by_district == {"haibowan": 8, "wuda": 5, "hainan": 3}
    assert set(
        Institution.objects.filter(tier=Tier.DISTRICT).values_list("district", flat=True)
    ) == {"haibowan", "wuda", "hainan"}
    assert "institutions: 26 created, 0 updated, 0 unchanged" in output


def test_wuhai_departments_have_reserved_slots():
    load(WUHAI)

    renmin = Institution.objects.get(tier=Tier.TERTIARY)
    with_slots = renmin.departments.filter(accepts_referrals=True, referral_slots_per_day__gt=0)
    assert with_slots.count() >= 12
    for primary in Institution.objects.filter(tier=Tier.PRIMARY):
        departments = {d.code: d for d in primary.departments.all()}
        assert 3 <= len(departments) <= 4
        assert departments["general-practice"].accepts_referrals
        assert departments["general-practice"].referral_slots_per_day > 0
        assert not departments["preventive-care"].accepts_referrals


def test_wuhai_alliances():
    load(WUHAI)

    groups = Alliance.objects.filter(kind=AllianceKind.MEDICAL_GROUP)
    communities = Alliance.objects.filter(kind=AllianceKind.MEDICAL_COMMUNITY)
    assert (groups.count(), communities.count()) == (2, 3)

    group_leads = set()
    for group in groups:
        members = current_members(group)
        leads = [m.institution for m in members if m.role == "lead"]
        assert len(leads) == 1
        group_leads.add(leads[0].name)
        member_tiers = {m.institution.tier for m in members if m.role == "member"}
        assert {Tier.SPECIALIST, Tier.DISTRICT, Tier.PRIMARY} <= member_tiers
    assert group_leads == {"乌海市人民医院", "乌海市蒙医中医医院"}

    assert {c.district_id for c in communities} == {"haibowan", "wuda", "hainan"}
    for community in communities:
        leads = [m.institution for m in current_members(community) if m.role == "lead"]
        assert len(leads) == 1
        assert leads[0].tier == Tier.DISTRICT
        assert leads[0].district_id == community.district_id

    for primary in Institution.objects.filter(tier=Tier.PRIMARY):
        communities_of = AllianceMembership.objects.filter(
            institution=primary,
            alliance__kind=AllianceKind.MEDICAL_COMMUNITY,
            end_date__isnull=True,
        ).select_related("alliance")
        assert len(communities_of) == 1, primary.code
        assert communities_of[0].alliance.district_id == primary.district_id


def test_wuhai_district_population_for_the_demo_generator():
    population = district_population()

    assert set(population) == {"haibowan", "wuda", "hainan"}
    assert 540_000 <= sum(population.values()) <= 580_000
    assert population["haibowan"] > population["wuda"] > population["hainan"]


def test_load_records_one_system_audit_event():
    load(WUHAI)

    event = AuditEvent.objects.get(action="network_load")
    assert event.actor is None
    assert event.actor_label == "system"
    assert event.object_type == "network"
    assert event.object_id == "乌海市"
    assert event.details["sha256"] == hashlib.sha256(WUHAI.read_bytes()).hexdigest()
    assert event.details["counts"]["institutions"]["created"] == 26
    assert event.details["counts"]["alliances"]["created"] == 5


# --- idempotence and updates -------------------------------------------------------------------


def test_second_run_changes_nothing():
    load(WUHAI)
    before = snapshot()

    output = load(WUHAI)

    assert snapshot() == before
    assert "institutions: 0 created, 0 updated, 26 unchanged, 0 deactivated" in output
    assert "alliances: 0 created, 0 updated, 5 unchanged" in output
    assert "memberships: 0 created, 0 updated, 44 unchanged, 0 removed" in output
    assert "unchanged: the database already matches the file" in output
    # only the first load wrote something, so only it is audited
    assert AuditEvent.objects.filter(action="network_load").count() == 1


def test_json_file_loads_the_same_network(tmp_path):
    document = yaml.safe_load(WUHAI_TEXT)
    path = write(
        tmp_path, json.dumps(document, ensure_ascii=False, indent=2, default=str), "wuhai.json"
    )

    load(path)
    before = snapshot()
    output = load(WUHAI)  # the YAML says the same: nothing to change

    assert Institution.objects.count() == 26
    assert snapshot() == before
    assert "26 unchanged" in output


def test_changed_fields_are_updated_and_reported(tmp_path):
    load(WUHAI)
    before = snapshot()
    changed = WUHAI_TEXT.replace("    beds: 1300\n", "    beds: 1350\n", 1).replace(
        "specialty: cardiology, accepts_referrals: true, referral_slots_per_day: 20}",
        "specialty: cardiology, accepts_referrals: true, referral_slots_per_day: 25}",
    )
    assert changed.count("1350") == 1

    output = load(write(tmp_path, changed))

    renmin = Institution.objects.get(code="wh-t-renmin")
    assert renmin.beds == 1350
    assert renmin.departments.get(code="cardiology").referral_slots_per_day == 25
    assert "institutions: 0 created, 1 updated, 25 unchanged" in output
    assert "departments: 0 created, 1 updated" in output
    assert "updated institution wh-t-renmin: beds" in output
    after = snapshot()
    assert len(after["institutions"]) == len(before["institutions"])
    assert [r for r in after["institutions"] if r["code"] != "wh-t-renmin"] == [
        r for r in before["institutions"] if r["code"] != "wh-t-renmin"
    ]
    event = AuditEvent.objects.filter(action="network_load").order_by("pk").last()
    assert event.details["updates"]["institution wh-t-renmin"] == ["beds"]


def test_institution_left_out_is_deactivated_not_deleted(tmp_path):
    load(WUHAI)
    start = WUHAI_TEXT.index("  - code: wh-p-suhaitu\n")
    end = WUHAI_TEXT.index("\n\n", start) + 2
    without = "".join(
        line
        for line in (WUHAI_TEXT[:start] + WUHAI_TEXT[end:]).splitlines(keepends=True)
        if "wh-p-suhaitu" not in line
    )
    path = write(tmp_path, without)

    output = load(path)

    suhaitu = Institution.objects.get(code="wh-p-suhaitu")
    assert suhaitu.active is False
    assert suhaitu.departments.count() == 4  # kept
    assert not suhaitu.alliance_memberships.exists()
    assert "institutions: 0 created, 0 updated, 25 unchanged, 1 deactivated" in output
    assert "wh-p-suhaitu" in output
    assert "memberships: 0 created, 0 updated, 43 unchanged, 1 removed" in output

    assert "0 deactivated" in load(path)  # already inactive: nothing more to do

    output = load(WUHAI)  # back in the file: active again
    assert Institution.objects.get(code="wh-p-suhaitu").active is True
    assert "institutions: 0 created, 1 updated, 25 unchanged" in output


def test_department_left_out_stops_taking_referrals(tmp_path):
    load(WUHAI)
    line = next(
        text for text in WUHAI_TEXT.splitlines(keepends=True) if "{code: orthodontics" in text
    )

    output = load(write(tmp_path, WUHAI_TEXT.replace(line, "")))

    orthodontics = Department.objects.get(institution__code="wh-s-kouqiang", code="orthodontics")
    assert (orthodontics.accepts_referrals, orthodontics.referral_slots_per_day) == (False, 0)
    assert "1 retired" in output
    assert "wh-s-kouqiang/orthodontics" in output


def test_community_lead_can_change_hands(tmp_path):
    """The old lead's period ends and another member leads: the one-current-lead constraint
    holds at every step of the update."""
    load(WUHAI)
    changed = WUHAI_TEXT.replace(
        "{institution: wh-d-haibowan, role: lead, start_date: 2021-01-01}",
        "{institution: wh-d-haibowan, role: lead, start_date: 2021-01-01, end_date: 2026-01-01}",
    ).replace(
        "{institution: wh-d-haibowan-zhongmeng, role: member, start_date: 2021-01-01}",
        "{institution: wh-d-haibowan-zhongmeng, role: lead, start_date: 2021-01-01}",
    )

    output = load(write(tmp_path, changed))

    community = Alliance.objects.get(code="wh-mc-haibowan")
    leads = [m.institution.code for m in current_members(community) if m.role == "lead"]
    assert leads == ["wh-d-haibowan-zhongmeng"]
    assert "memberships: 0 created, 2 updated" in output


def test_removed_lead_membership_is_deleted_before_a_new_lead_is_set(tmp_path):
    load(WUHAI)
    changed = WUHAI_TEXT.replace(
        "      - {institution: wh-d-wuda, role: lead, start_date: 2021-01-01}\n", ""
    ).replace(
        "{institution: wh-p-sandaokan, role: member, start_date: 2021-01-01}",
        "{institution: wh-p-sandaokan, role: lead, start_date: 2021-01-01}",
    )

    output = load(write(tmp_path, changed))

    community = Alliance.objects.get(code="wh-mc-wuda")
    assert [m.institution.code for m in current_members(community) if m.role == "lead"] == [
        "wh-p-sandaokan"
    ]
    assert "memberships removed: wh-mc-wuda:wh-d-wuda:2021-01-01" in output


def test_alliance_left_out_is_kept_and_reported(tmp_path):
    load(WUHAI)
    start = WUHAI_TEXT.index("  - code: wh-mc-hainan\n")
    path = write(tmp_path, WUHAI_TEXT[:start])
    before = snapshot()

    output = load(path)

    assert snapshot() == before
    assert "alliances: 0 created, 0 updated, 4 unchanged, 1 not in file (kept)" in output
    assert "wh-mc-hainan" in output
    assert "unchanged: the database already matches the file" in output
    assert AuditEvent.objects.filter(action="network_load").count() == 1  # the first load's


def test_dry_run_reports_and_writes_nothing():
    output = load(WUHAI, "--dry-run")

    assert "institutions: 26 created" in output
    assert "dry run" in output
    assert row_counts() == EMPTY


# --- refusals: line, field, nothing written ----------------------------------------------------

MINIMAL = """\
version: 2
city: 测试市
districts:
  - {code: haibowan, name: 海勃湾区, population: 300000}
  - {code: wuda, name: 乌达区, population: 140000}
institutions:
  - code: t-top
    name: 顶级医院
    tier: tertiary
    category: general_hospital
    district: haibowan
    beds: 100
    departments:
      - {code: cardiology, name: 心内科, specialty: cardiology, referral_slots_per_day: 5}
  - code: t-district
    name: 区医院
    tier: district
    category: general_hospital
    district: wuda
  - code: t-primary
    name: 社区中心
    tier: primary
    category: community_health_center
    district: wuda
alliances:
  - code: t-mc
    name: 医共体
    kind: medical_community
    district: wuda
    members:
      - {institution: t-district, role: lead, start_date: 2021-01-01}
      - {institution: t-primary, role: member, start_date: 2021-01-01}
"""


def line_of(text: str, needle: str, *, last: bool = False) -> int:
    index = text.rindex(needle) if last else text.index(needle)
    return text.count("\n", 0, index) + 1


def test_minimal_file_is_valid(tmp_path):
    spec = network_file_parse(write(tmp_path, MINIMAL))

    assert [i.code for i in spec.institutions] == ["t-top", "t-district", "t-primary"]


INVALID = [
    pytest.param(
        MINIMAL.replace("tier: district", "tier: quaternary"),
        "tier: quaternary",
        "institutions[1].tier",
        "unknown tier 'quaternary'",
        id="bad-tier",
    ),
    pytest.param(
        MINIMAL.replace("code: t-primary", "code: t-district"),
        "code: t-district",
        "institutions[2].code",
        "duplicate institution code 't-district' (first at line 15)",
        id="duplicate-code",
    ),
    pytest.param(
        MINIMAL.replace("{institution: t-primary", "{institution: t-nowhere"),
        "t-nowhere",
        "alliances[0].members[1].institution",
        "unknown institution 't-nowhere'",
        id="unknown-institution-in-membership",
    ),
    pytest.param(
        MINIMAL.replace("    name: 社区中心\n", ""),
        "code: t-primary",
        "institutions[2].name",
        "required field missing",
        id="missing-field",
    ),
    pytest.param(
        MINIMAL.replace("role: member", "role: lead"),
        "role: lead, start_date: 2021-01-01}\n",
        "alliances[0].members[1].role",
        "alliance 't-mc' has more than one current lead (also line 31)",
        id="two-current-leads",
    ),
    pytest.param(
        MINIMAL.replace(
            "role: member, start_date: 2021-01-01}", "role: member, start_date: 2021-02-30}"
        ),
        "2021-02-30",
        "alliances[0].members[1].start_date",
        "not a valid date '2021-02-30'",
        id="impossible-date",
    ),
    pytest.param(
        MINIMAL.replace(
            "role: member, start_date: 2021-01-01}",
            "role: member, start_date: 2021-01-01, end_date: 2020-12-31}",
        ),
        "end_date: 2020-12-31",
        "alliances[0].members[1].end_date",
        "end_date must be after start_date",
        id="period-backwards",
    ),
    pytest.param(
        MINIMAL.replace(
            "referral_slots_per_day: 5}\n",
            "referral_slots_per_day: 5}\n"
            "      - {code: cardiology, name: 心内二科, specialty: x}\n",
        ),
        "心内二科",
        "institutions[0].departments[1].code",
        "duplicate department code 'cardiology'",
        id="duplicate-department-code",
    ),
    pytest.param(
        MINIMAL.replace("beds: 100", "beds: many"),
        "beds: many",
        "institutions[0].beds",
        "expected a whole number, got 'many'",
        id="beds-not-a-number",
    ),
    pytest.param(
        MINIMAL.replace("beds: 100", "bedz: 100"),
        "bedz: 100",
        "institutions[0].bedz",
        "unknown field",
        id="unknown-field",
    ),
    pytest.param(
        MINIMAL.replace("    tier: tertiary\n", "    tier: tertiary\n    tier: specialist\n"),
        "tier: specialist",
        "institutions[0].tier",
        "duplicate key",
        id="duplicate-key",
    ),
    pytest.param(
        MINIMAL.replace("district: wuda\n    members", "district: baotou\n    members"),
        "district: baotou",
        "alliances[0].district",
        "unknown district 'baotou'",
        id="unknown-district",
    ),
    pytest.param(
        MINIMAL.replace("    district: haibowan\n", "    district: baotou\n"),
        "district: baotou",
        "institutions[0].district",
        "unknown district 'baotou'; expected one of haibowan, wuda (未知的区)",
        id="institution-in-a-district-not-in-the-file",
    ),
    pytest.param(
        MINIMAL.replace("{code: wuda, name: 乌达区", "{code: haibowan, name: 乌达区"),
        "{code: haibowan, name: 乌达区",
        "districts[1].code",
        "duplicate district code 'haibowan' (first at line 4)",
        id="duplicate-district-code",
    ),
    pytest.param(
        MINIMAL.replace("population: 140000", "population: 0"),
        "population: 0",
        "districts[1].population",
        "expected a positive whole number, got 0",
        id="district-without-population",
    ),
    pytest.param(
        MINIMAL.replace("population: 140000", "population: many"),
        "population: many",
        "districts[1].population",
        "expected a whole number, got 'many'",
        id="district-population-not-a-number",
    ),
    pytest.param(
        MINIMAL.replace("{code: wuda, name: 乌达区, ", "{code: wuda, "),
        "{code: wuda, population",
        "districts[1].name",
        "required field missing",
        id="district-without-name",
    ),
    pytest.param(
        MINIMAL.replace("{code: wuda, name: 乌达区, ", "{code: wuda, name: 乌达区, area: 1, "),
        "area: 1",
        "districts[1].area",
        "unknown field",
        id="unknown-district-field",
    ),
    pytest.param(
        MINIMAL.replace("version: 2", "version: 1"),
        "version: 1",
        "version",
        "unsupported format version 1; this loader reads version 2: replace "
        "`district_population` with a `districts` table",
        id="version-1-file",
    ),
    pytest.param(
        MINIMAL.replace("kind: medical_community", "kind: hospital_league"),
        "hospital_league",
        "alliances[0].kind",
        "unknown alliance kind 'hospital_league'",
        id="unknown-alliance-kind",
    ),
    pytest.param(
        MINIMAL.replace("version: 2", "version: 3"),
        "version: 3",
        "version",
        "unsupported format version 3; this loader reads version 2 (",
        id="unknown-version",
    ),
]


@pytest.mark.parametrize(("text", "needle", "field_path", "fragment"), INVALID)
def test_invalid_file_is_refused_with_line_and_field(tmp_path, text, needle, field_path, fragment):
    path = write(tmp_path, text)
    expected_line = line_of(text, needle, last=True)

    with pytest.raises(CommandError) as refused:
        load(path)

    message = str(refused.value)
    assert f"{path} line {expected_line}: {field_path}: {fragment}" in message
    assert "nothing was written" in message
    assert row_counts() == EMPTY


def test_malformed_yaml_is_refused_with_its_line(tmp_path):
    text = MINIMAL.replace(
        "    category: community_health_center", "    category: community: health_center"
    )
    path = write(tmp_path, text)

    with pytest.raises(CommandError) as refused:
        load(path)

    expected_line = line_of(text, "community: health_center")
    assert f"{path} line {expected_line}: malformed YAML" in str(refused.value)
    assert row_counts() == EMPTY


def test_malformed_json_is_refused_with_its_line(tmp_path):
    path = write(tmp_path, '{\n  "version": 1,\n  "city": "x",\n  "institutions": [\n}\n', "n.json")

    with pytest.raises(CommandError) as refused:
        load(path)

    assert f"{path} line 5: malformed JSON" in str(refused.value)
    assert row_counts() == EMPTY


def test_json_problems_carry_line_numbers(tmp_path):
    document = yaml.safe_load(MINIMAL.replace("tier: district", "tier: quaternary"))
    text = json.dumps(document, ensure_ascii=False, indent="\t", default=str)  # tabs too
    path = write(tmp_path, text, "n.json")

    with pytest.raises(NetworkFileInvalid) as refused:
        network_load(path=path)

    assert refused.value.code == "network_file_invalid"
    expected_line = line_of(text, '"quaternary"')
    assert f"line {expected_line}: institutions[1].tier: unknown tier" in refused.value.message
    assert refused.value.details["problems"][0]["path"] == "institutions[1].tier"


def test_every_problem_is_listed_not_only_the_first(tmp_path):
    text = MINIMAL.replace("tier: district", "tier: quaternary").replace("beds: 100", "beds: -1")
    path = write(tmp_path, text)

    with pytest.raises(NetworkFileInvalid) as refused:
        network_load(path=path)

    assert [p.path for p in refused.value.problems] == [
        "institutions[0].beds",
        "institutions[1].tier",
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "the file is empty"),
        ("- just\n- a list\n", "expected a mapping"),
        (
            "version: 2\ncity: x\ndistricts: [{code: a, name: A区, population: 1}]\n"
            "institutions: []\n",
            "at least one institution is required",
        ),
    ],
    ids=["empty", "not-a-mapping", "no-institutions"],
)
def test_files_without_a_network_are_refused(tmp_path, text, fragment):
    with pytest.raises(CommandError, match=fragment):
        load(write(tmp_path, text))
    assert row_counts() == EMPTY


def test_missing_file_and_unknown_type_are_refused(tmp_path):
    with pytest.raises(CommandError, match="cannot read the file"):
        load(tmp_path / "nowhere.yaml")
    with pytest.raises(CommandError, match=r"unsupported file type '\.txt'"):
        load(write(tmp_path, MINIMAL, "network.txt"))


def test_failing_file_leaves_an_earlier_load_untouched(tmp_path):
    """The bad file also renames an institution and drops another: none of it is applied."""
    load(WUHAI)
    before, counts = snapshot(), row_counts()
    start = WUHAI_TEXT.index("  - code: wh-p-suhaitu\n")
    end = WUHAI_TEXT.index("\n\n", start) + 2
    bad = (
        (WUHAI_TEXT[:start] + WUHAI_TEXT[end:])
        .replace("name: 乌海市人民医院\n", "name: 乌海市第一人民医院\n")
        .replace(
            "    tier: primary\n    category: township_health_center",
            "    tier: quaternary\n    category: township_health_center",
            1,
        )
    )

    with pytest.raises(CommandError, match=r"line \d+: institutions\[\d+\]\.tier: unknown tier"):
        load(write(tmp_path, bad))

    assert snapshot() == before
    assert row_counts() == counts


def test_the_example_in_the_format_docs_is_valid(tmp_path):
    docs = (Path(settings.BASE_DIR) / "docs" / "network-data.md").read_text(encoding="utf-8")
    example = docs.split("```yaml\n", 1)[1].split("```", 1)[0]

    spec = network_file_parse(write(tmp_path, example))

    assert [i.code for i in spec.institutions] == ["wh-t-renmin", "wh-p-xinhua"]
    assert spec.alliances[0].members[0].role == "lead"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_loads_take_turns():
    """Two loads at once: the second waits for the first and then finds nothing to change."""
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def run():
        try:
            barrier.wait()
            reports.append(network_load(path=WUHAI))
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(r.tallies["institutions"].created for r in reports) == [0, 26]
    assert sorted(r.tallies["institutions"].unchanged for r in reports) == [0, 26]
    assert Institution.objects.count() == 26
