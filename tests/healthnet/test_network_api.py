"""Institutions and alliances: filters, detail with departments, pagination, query counts."""

from __future__ import annotations

import pytest

from healthnet.models import Tier
from tests.factories import (
    AllianceFactory,
    DepartmentFactory,
    InstitutionFactory,
    MembershipFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def network(db):
    hospital = InstitutionFactory(code="wh-t-1", tier=Tier.TERTIARY, district="haibowan")
    district = InstitutionFactory(code="wh-d-1", tier=Tier.DISTRICT, district="wuda")
    clinic = InstitutionFactory(code="wh-p-1", tier=Tier.PRIMARY, district="wuda")
    group = AllianceFactory(code="group-1", kind="medical_group")
    community = AllianceFactory(code="community-wuda", kind="medical_community")
    MembershipFactory(alliance=group, institution=hospital, role="lead")
    MembershipFactory(alliance=group, institution=clinic)
    MembershipFactory(alliance=community, institution=district, role="lead")
    MembershipFactory(alliance=community, institution=clinic)
    DepartmentFactory(institution=hospital, code="cardiology", referral_slots_per_day=8)
    return {"hospital": hospital, "district": district, "clinic": clinic}


def codes(response):
    return [item["code"] for item in response.json()["items"]]


def test_list_filters_by_tier_district_and_alliance(clerk_api, network):
    assert codes(clerk_api.get("/api/v1/institutions", {"tier": "tertiary"})) == ["wh-t-1"]
    assert codes(clerk_api.get("/api/v1/institutions", {"district": "wuda"})) == [
        "wh-d-1",
        "wh-p-1",
    ]
    assert codes(clerk_api.get("/api/v1/institutions", {"alliance": "group-1"})) == [
        "wh-p-1",
        "wh-t-1",
    ]


def test_list_is_paginated(clerk_api, network):
    response = clerk_api.get("/api/v1/institutions", {"page_size": 2, "page": 2})

    body = response.json()
    assert body["count"] == 4  # three above and the clerk's own
    assert body["page"] == 2
    assert body["pages"] == 2
    assert len(body["items"]) == 2


def test_bad_filter_values_are_a_422(clerk_api, network):
    for params in ({"tier": "quaternary"}, {"page": 0}, {"page_size": 10_000}):
        response = clerk_api.get("/api/v1/institutions", params)
        assert response.status_code == 422
        assert response.json()["code"] == "validation_error"
    unknown = clerk_api.get("/api/v1/institutions", {"district": "atlantis"})
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "district_unknown"


def test_list_shows_each_institutions_alliances(clerk_api, network):
    items = {i["code"]: i for i in clerk_api.get("/api/v1/institutions").json()["items"]}

    assert {a["code"] for a in items["wh-p-1"]["alliances"]} == {"group-1", "community-wuda"}
    assert items["wh-t-1"]["alliances"][0]["role"] == "lead"
    assert items["wh-t-1"]["tier_level"] > items["wh-p-1"]["tier_level"]


def test_list_query_count_is_flat(clerk_api, network, django_assert_max_num_queries):
    # token with its user + count + page + the memberships prefetch, whatever the number of rows
    def queries_for_list():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert clerk_api.get("/api/v1/institutions").status_code == 200
        return len(ctx.captured_queries)

    queries_for_list()  # the token's first use records last_used_at once
    few = queries_for_list()
    for n in range(30):
        institution = InstitutionFactory(code=f"extra-{n}")
        MembershipFactory(institution=institution)
    many = queries_for_list()

    assert few == many
    with django_assert_max_num_queries(4):
        clerk_api.get("/api/v1/institutions")


def test_detail_lists_departments(clerk_api, network):
    response = clerk_api.get("/api/v1/institutions/wh-t-1")

    assert response.status_code == 200
    departments = response.json()["departments"]
    assert [d["code"] for d in departments] == ["cardiology"]
    assert departments[0]["referral_slots_per_day"] == 8
    assert "id" in departments[0]


def test_unknown_institution_is_a_404(clerk_api, network):
    response = clerk_api.get("/api/v1/institutions/nowhere")

    assert response.status_code == 404
    assert response.json()["code"] == "institution_not_found"


def test_alliances_with_members(clerk_api, network):
    response = clerk_api.get("/api/v1/alliances", {"kind": "medical_community"})

    [community] = response.json()["items"]
    assert community["code"] == "community-wuda"
    assert [(m["institution"], m["role"]) for m in community["members"]] == [
        ("wh-d-1", "lead"),
        ("wh-p-1", "member"),
    ]
    assert clerk_api.get("/api/v1/alliances/nope").status_code == 404


def test_network_needs_a_login(network):
    from tests.conftest import ApiClient

    response = ApiClient().get("/api/v1/institutions")
    assert response.status_code == 401
