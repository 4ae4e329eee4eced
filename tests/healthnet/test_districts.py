"""Districts are data: loaded from the network file, referred to by code, checked where a caller
sends one. Another city loads its own file and registers residents without a code change."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from healthnet.errors import InvalidInput
from healthnet.models import AuditEvent, District, Institution, Resident, UserRole
from healthnet.national_id import make_national_id
from healthnet.selectors import district_by_code, districts_active
from tests.conftest import api_client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# A made-up city: nothing of it is in the code.
QINGCHUAN = """\
version: 2
city: 青川市
city_en: Qingchuan
districts:
  - {code: qc-hedong, name: 河东区, name_en: Hedong District, population: 210000}
  - {code: qc-shanxi, name: 山西区, population: 90000}
institutions:
  - code: qc-t-zhongxin
    name: 青川市中心医院
    sample_name: true
    tier: tertiary
    category: general_hospital
    district: qc-hedong
    beds: 800
  - code: qc-p-shanxi
    name: 山西区社区卫生服务中心
    sample_name: true
    tier: primary
    category: community_health_center
    district: qc-shanxi
    departments:
      - {code: general-practice, name: 全科, specialty: general_practice}
alliances:
  - code: qc-mc-shanxi
    name: 山西区医共体
    kind: medical_community
    district: qc-shanxi
    members:
      - {institution: qc-p-shanxi, role: lead, start_date: 2022-01-01}
"""


def load(path: Path) -> str:
    out = io.StringIO()
    call_command("load_network", str(path), stdout=out)
    return out.getvalue()


def city_file(tmp_path: Path, text: str = QINGCHUAN) -> Path:
    path = tmp_path / "qingchuan.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def registration(district: str) -> dict:
    number = make_national_id(
        region_code="110101", birth_date=dt.date(1975, 3, 9), sequence=12, sex="female"
    )
    return {"national_id": number, "name": "李娟", "district": district}


def test_another_city_loads_its_districts_and_registers_a_resident_there(tmp_path):
    output = load(city_file(tmp_path))

    assert "districts: 2 created, 0 updated, 0 unchanged, 0 deactivated" in output
    assert list(District.objects.values_list("code", "name", "name_en", "population")) == [
        ("qc-hedong", "河东区", "Hedong District", 210_000),
        ("qc-shanxi", "山西区", "", 90_000),
    ]
    clinic = Institution.objects.get(code="qc-p-shanxi")
    clerk = api_client_for(UserFactory(role=UserRole.CLERK, institution=clinic))

    created = clerk.post("/api/v1/residents", registration("qc-shanxi"))

    assert created.status_code == 201, created.content
    assert created.json()["district"] == "qc-shanxi"
    assert Resident.objects.get().district_id == "qc-shanxi"
    listed = clerk.get("/api/v1/institutions", {"district": "qc-shanxi"}).json()["items"]
    assert [(i["code"], i["district"]) for i in listed] == [("qc-p-shanxi", "qc-shanxi")]
    [community] = clerk.get("/api/v1/alliances").json()["items"]
    assert community["district"] == "qc-shanxi"
    # Wuhai's districts mean nothing here.
    refused = clerk.post("/api/v1/residents", registration("haibowan"))
    assert refused.status_code == 422
    assert refused.json()["code"] == "district_unknown"
    assert refused.json()["details"]["field"] == "district"
    assert Resident.objects.count() == 1


def test_changed_and_dropped_districts_are_updated_and_deactivated(tmp_path):
    three = QINGCHUAN.replace(
        "  - {code: qc-shanxi, name: 山西区, population: 90000}\n",
        "  - {code: qc-shanxi, name: 山西区, population: 90000}\n"
        "  - {code: qc-beishan, name: 北山区, population: 40000}\n",
    )
    load(city_file(tmp_path, three))
    changed = QINGCHUAN.replace("population: 210000", "population: 215000")

    output = load(city_file(tmp_path, changed))

    assert "districts: 0 created, 1 updated, 1 unchanged, 1 deactivated" in output
    assert "districts deactivated, no longer in the file (已停用): qc-beishan" in output
    assert "updated district qc-hedong: population" in output
    assert District.objects.get(code="qc-hedong").population == 215_000
    assert District.objects.get(code="qc-beishan").active is False
    assert [d.code for d in districts_active()] == ["qc-hedong", "qc-shanxi"]
    event = AuditEvent.objects.filter(action="network_load").order_by("pk").last()
    assert event.details["deactivated_districts"] == ["qc-beishan"]
    assert event.details["counts"]["districts"] == {
        "created": 0,
        "updated": 1,
        "unchanged": 1,
        "removed": 1,
    }

    # A district no longer in the file: still known (rows refer to it), closed to registration.
    assert district_by_code("qc-beishan").name == "北山区"
    with pytest.raises(InvalidInput) as refused:
        district_by_code("qc-beishan", active_only=True)
    assert refused.value.code == "district_unknown"

    output = load(city_file(tmp_path, three))  # back in the file: active again
    assert District.objects.get(code="qc-beishan").active is True
    assert "districts: 0 created, 2 updated, 1 unchanged, 0 deactivated" in output


def test_a_registration_in_a_district_dropped_from_the_file_is_refused(tmp_path):
    three = QINGCHUAN.replace(
        "districts:\n", "districts:\n  - {code: qc-beishan, name: 北山区, population: 40000}\n"
    )
    load(city_file(tmp_path, three))
    load(city_file(tmp_path))
    clinic = Institution.objects.get(code="qc-p-shanxi")
    clerk = api_client_for(UserFactory(role=UserRole.CLERK, institution=clinic))

    refused = clerk.post("/api/v1/residents", registration("qc-beishan"))

    assert refused.status_code == 422
    assert refused.json()["code"] == "district_unknown"
    assert Resident.objects.count() == 0
    # while filters still accept it: institutions that were there may be listed
    assert clerk.get("/api/v1/institutions", {"district": "qc-beishan"}).status_code == 200


def test_an_institution_that_moves_district_is_updated(tmp_path):
    load(city_file(tmp_path))
    moved = QINGCHUAN.replace(
        "    district: qc-hedong\n    beds: 800", "    district: qc-shanxi\n    beds: 800"
    )

    output = load(city_file(tmp_path, moved))

    assert Institution.objects.get(code="qc-t-zhongxin").district_id == "qc-shanxi"
    assert "updated institution qc-t-zhongxin: district" in output


def test_a_district_with_rows_cannot_be_deleted(tmp_path):
    from django.db.models import ProtectedError

    load(city_file(tmp_path))

    with pytest.raises(ProtectedError):
        District.objects.get(code="qc-shanxi").delete()


@pytest.mark.django_db(transaction=True)
def test_migration_makes_a_district_of_every_code_the_rows_hold():
    """A database from before the District table keeps its values: each code in use becomes a
    district (named after its code until the next load names it); "no district" becomes NULL."""
    before = [("healthnet", "0003_user_scope_constraint_stable_order")]
    after = [("healthnet", "0005_district_foreign_keys")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        institution_model = old.get_model("healthnet", "Institution")
        alliance_model = old.get_model("healthnet", "Alliance")
        resident_model = old.get_model("healthnet", "Resident")
        institution_model.objects.create(
            code="i-1", name="医院", tier="primary", category="clinic", district="wuda"
        )
        alliance_model.objects.create(code="a-group", name="集团", kind="medical_group")
        alliance_model.objects.create(
            code="a-mc", name="医共体", kind="medical_community", district="hainan"
        )
        resident_model.objects.create(
            national_id_encrypted="x",
            national_id_hash="h" * 64,
            name="居民",
            sex="male",
            birth_date=dt.date(1960, 1, 1),
            district="haibowan",
        )

        executor = MigrationExecutor(connection)
        executor.migrate(after)

        new = executor.loader.project_state(after).apps
        districts = new.get_model("healthnet", "District").objects.order_by("code")
        assert list(districts.values_list("code", "name", "population", "active")) == [
            ("haibowan", "haibowan", 0, True),
            ("hainan", "hainan", 0, True),
            ("wuda", "wuda", 0, True),
        ]
        alliances = new.get_model("healthnet", "Alliance").objects.order_by("code")
        assert list(alliances.values_list("code", "district_id")) == [
            ("a-group", None),
            ("a-mc", "hainan"),
        ]
        institution = new.get_model("healthnet", "Institution").objects.get()
        assert institution.district.code == "wuda"
        assert new.get_model("healthnet", "Resident").objects.get().district_id == "haibowan"
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
