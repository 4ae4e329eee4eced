"""/api/v1/reports: who may read it, what it answers (from the rollups, values written by hand
here), the small-cell flag, bad parameters, and query counts flat in the number of rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from healthnet.models import UserRole
from reports.kpis import KPIS
from tests.conftest import ApiClient, api_client_for
from tests.factories import InstitutionFactory, ResidentFactory, UserFactory
from tests.reports.support import kpi_where, put

pytestmark = pytest.mark.django_db


@pytest.fixture
def bureau_api():
    return api_client_for(UserFactory(role=UserRole.BUREAU, institution=None))


@pytest.fixture
def ratio():
    return kpi_where("ratio", "team")


@pytest.fixture
def count():
    return kpi_where("count", "institution")


def _values(api, **params):
    return api.get("/api/v1/reports/values", params)


def test_bureau_and_system_admin_read_the_catalogue():
    for role in (UserRole.BUREAU, UserRole.SYSTEM_ADMIN):
        api = api_client_for(UserFactory(role=role, institution=None))
        response = api.get("/api/v1/reports/kpis")
        assert response.status_code == 200, response.content
        body = response.json()
        assert [k["code"] for k in body] == list(KPIS)
        first = body[0]
        assert set(first) == {
            "code",
            "number",
            "name",
            "unit",
            "levels",
            "breakdown",
            "definition",
            "breakdown_values",
        }


@pytest.mark.parametrize(
    "role",
    [
        UserRole.DOCTOR,
        UserRole.INSTITUTION_ADMIN,
        UserRole.REFERRAL_COORDINATOR,
        UserRole.CLERK,
        UserRole.PUBLIC_HEALTH,
    ],
)
def test_institution_staff_get_403_everywhere(role, ratio):
    put(ratio, "2026-03", "city", "city", 3, 4)
    api = api_client_for(UserFactory(role=role, institution=InstitutionFactory()))
    for path, params in _every_endpoint(ratio):
        response = api.get(path, params)
        assert response.status_code == 403, (path, response.content)
        assert response.json()["code"] == "forbidden"


def test_resident_gets_403_and_anonymous_401(ratio):
    resident = ResidentFactory()
    user = UserFactory(role=UserRole.RESIDENT, institution=None, resident=resident)
    api = api_client_for(user)
    anonymous = ApiClient()
    for path, params in _every_endpoint(ratio):
        assert api.get(path, params).status_code == 403, path
        assert anonymous.get(path, params).status_code == 401, path


def _every_endpoint(kpi):
    return [
        ("/api/v1/reports/kpis", {}),
        (f"/api/v1/reports/kpis/{kpi.code}", {}),
        ("/api/v1/reports/values", {"kpi": kpi.code, "period": "2026-03"}),
        ("/api/v1/reports/series", {"kpi": kpi.code, "last": "2026-03"}),
        ("/api/v1/reports/cards", {"period": "2026-03"}),
        ("/api/v1/reports/export.csv", {"period": "2026-03"}),
        ("/api/v1/reports/export.xlsx", {"period": "2026-03"}),
        (f"/api/v1/reports/fhir/Measure/{kpi.code.replace('_', '-')}", {}),
        ("/api/v1/reports/fhir/MeasureReport", {"kpi": kpi.code, "period": "2026-03"}),
    ]


def test_values_by_level_and_parent(bureau_api, ratio):
    put(ratio, "2026-03", "institution", "p1", 3, 4, parent="d1", name="甲社区")
    put(ratio, "2026-03", "institution", "p2", 1, 5, parent="d1", name="乙社区")
    put(ratio, "2026-03", "institution", "p3", 0, 0, parent="d2", name="丙社区")
    put(ratio, "2026-02", "institution", "p1", 9, 10, parent="d1")  # another month
    put(ratio, "2026-03", "city", "city", 4, 9)

    response = _values(bureau_api, kpi=ratio.code, period="2026-03", level="institution")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["kpi"], body["period"], body["level"]) == (ratio.code, "2026-03", "institution")
    assert [
        (r["unit_code"], r["numerator"], r["denominator"], r["value"]) for r in body["rows"]
    ] == [
        ("p1", 3.0, 4.0, 0.75),
        ("p2", 1.0, 5.0, 0.2),
        ("p3", 0.0, 0.0, None),
    ]
    assert body["rows"][0]["unit_name"] == "甲社区"
    assert not any(r["suppressed"] for r in body["rows"])  # institutions are never small cells

    under_d1 = _values(bureau_api, kpi=ratio.code, period="2026-03", level="institution", unit="d1")
    assert [r["unit_code"] for r in under_d1.json()["rows"]] == ["p1", "p2"]


def test_small_team_cells_are_flagged(bureau_api, count, ratio, settings):
    put(ratio, "2026-03", "team", "11", 4, 4, parent="p1")
    put(ratio, "2026-03", "team", "12", 2, 5, parent="p1")
    put(ratio, "2026-03", "institution", "p1", 1, 1, parent="d1")
    put(count, "2026-03", "institution", "p1", 1, parent="d1")

    def flags(kpi, level="team"):
        rows = _values(bureau_api, kpi=kpi.code, period="2026-03", level=level).json()["rows"]
        assert rows
        return {r["unit_code"]: r["suppressed"] for r in rows}

    assert flags(ratio) == {"11": True, "12": False}  # by the denominator, not the value
    # at the institution and above, never
    assert flags(ratio, "institution") == {"p1": False}
    assert flags(count, "institution") == {"p1": False}
    settings.REPORTS_SMALL_CELL = 7
    assert flags(ratio) == {"11": True, "12": True}
    settings.REPORTS_SMALL_CELL = 0
    assert flags(ratio) == {"11": False, "12": False}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kpi": "no_such_kpi", "period": "2026-03"}, "kpi"),
        ({"period": "2026-13"}, "period"),
        ({"period": "March"}, "period"),
        ({"period": "2026Q5"}, "period"),
    ],
)
def test_bad_parameters_answer_422(bureau_api, ratio, params, field):
    params = {"kpi": ratio.code, **params}
    response = _values(bureau_api, **params)
    assert response.status_code == 422, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    # a shape the document declares is refused by validation (details.errors), a well-shaped
    # but unknown value by the selector (details.field): either way the field is named
    named = body["details"].get("field") or [e["field"] for e in body["details"]["errors"]]
    assert named in (field, [field])


def test_a_level_the_kpi_lacks_or_no_level_at_all_answers_422(bureau_api):
    city_only = next((k for k in KPIS.values() if "team" not in k.levels), None)
    if city_only is not None:
        response = _values(bureau_api, kpi=city_only.code, period="2026-03", level="team")
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_level"
    kpi = next(iter(KPIS))
    response = _values(bureau_api, kpi=kpi, period="2026-03", level="planet")
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert bureau_api.get("/api/v1/reports/values", {"kpi": kpi}).status_code == 422


def test_unknown_kpi_detail_is_404(bureau_api):
    response = bureau_api.get("/api/v1/reports/kpis/no_such")
    assert response.status_code == 404
    assert response.json()["code"] == "kpi_not_found"


def test_series_is_the_last_months_oldest_first(bureau_api, ratio):
    labels = [f"2024-{m:02d}" for m in range(1, 13)] + [f"2025-{m:02d}" for m in range(1, 13)]
    labels += ["2026-01", "2026-02"]
    for n, label in enumerate(labels):
        put(ratio, label, "institution", "p1", n, 30, parent="d1")
    put(ratio, "2026-02", "institution", "p2", 1, 2, parent="d1")

    params = {"kpi": ratio.code, "level": "institution", "unit": "p1", "last": "2026-02"}
    body = bureau_api.get("/api/v1/reports/series", params).json()
    assert [r["period"] for r in body["rows"]] == labels[-24:]
    assert body["rows"][-1]["numerator"] == len(labels) - 1

    short = bureau_api.get("/api/v1/reports/series", {**params, "months": 3}).json()
    assert [r["period"] for r in short["rows"]] == ["2025-12", "2026-01", "2026-02"]

    missing = bureau_api.get("/api/v1/reports/series", {**params, "unit": "nowhere"})
    assert missing.status_code == 404
    assert bureau_api.get("/api/v1/reports/series", {**params, "months": 0}).status_code == 422
    assert bureau_api.get("/api/v1/reports/series", {**params, "last": "x"}).status_code == 422


def test_cards_carry_previous_month_and_year_ago(bureau_api, ratio, count):
    put(ratio, "2026-03", "city", "city", 3, 4)
    put(ratio, "2026-02", "city", "city", 1, 2)
    put(ratio, "2025-03", "city", "city", 1, 4)
    put(count, "2026-03", "city", "city", 12)

    response = bureau_api.get("/api/v1/reports/cards", {"period": "2026-03"})
    assert response.status_code == 200, response.content
    cards = {c["kpi"]["code"]: c for c in response.json()}
    assert set(cards) == {k.code for k in KPIS.values() if "city" in k.levels}
    card = cards[ratio.code]
    assert card["row"]["value"] == 0.75
    assert card["previous"]["value"] == 0.5
    assert card["mom_change"] == 0.25
    assert card["yoy_change"] == 0.5
    assert cards[count.code]["row"]["value"] == 12
    assert cards[count.code]["previous"] is None
    assert cards[count.code]["mom_change"] is None


def test_reads_take_the_same_queries_for_3_or_40_rows(bureau_api, ratio):
    def queries(params):
        with CaptureQueriesContext(connection) as captured:
            response = bureau_api.get(params[0], params[1])
            assert response.status_code == 200, response.content
        return len(captured)

    def endpoints():
        return [
            ("/api/v1/reports/values", {"kpi": ratio.code, "period": "2026-03", "level": "team"}),
            ("/api/v1/reports/cards", {"period": "2026-03", "level": "team", "unit": "t0"}),
            (
                "/api/v1/reports/series",
                {"kpi": ratio.code, "level": "team", "unit": "t0", "last": "2026-03"},
            ),
            ("/api/v1/reports/export.csv", {"period": "2026-03"}),
            ("/api/v1/reports/export.xlsx", {"period": "2026-03"}),
            (
                "/api/v1/reports/fhir/MeasureReport",
                {"kpi": ratio.code, "period": "2026-03", "level": "team", "unit": "t0"},
            ),
        ]

    for n in range(3):
        put(ratio, "2026-03", "team", f"t{n}", n, 10, parent="p1")
        put(ratio, _months_before("2026-02", n), "team", "t0", n, 10, parent="p1")
    bureau_api.get("/api/v1/reports/kpis")  # the token's first use is recorded once
    small = [queries(e) for e in endpoints()]
    for n in range(3, 40):
        put(ratio, "2026-03", "team", f"t{n}", n, 10, parent="p1")
        put(ratio, _months_before("2026-02", n), "team", "t0", n, 10, parent="p1")
    large = [queries(e) for e in endpoints()]
    assert small == large


def _months_before(label: str, n: int) -> str:
    year, month = map(int, label.split("-"))
    index = year * 12 + month - 1 - n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
