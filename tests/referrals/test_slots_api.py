"""GET /api/v1/referrals/slots: a department's reserved slots per day (capacity, booked, free),
a day nobody booked at the department's daily number; parameters checked (4xx in the API's
format, nothing read); who may ask; documented with its error answers."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from healthnet.models import UserRole
from referrals import services
from referrals.models import DepartmentDaySlots
from tests.conftest import api_client_for
from tests.factories import ResidentFactory, UserFactory
from tests.referrals.support import create_up, referral_in, tomorrow

URL = "/api/v1/referrals/slots"


def _get(api, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return api.get(f"{URL}?{query}")


def test_a_fortnight_from_today_by_default_with_the_daily_number_where_nobody_booked(net):
    referral_in(net, "scheduled")  # one slot of cardiology tomorrow
    today = timezone.localdate()

    response = _get(api_client_for(net.office), department=net.cardiology.public_id)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["department"]["id"] == str(net.cardiology.public_id)
    assert body["institution"] == {"code": "wh-t-01", "name": "乌海市人民医院"}
    assert body["referral_slots_per_day"] == 5
    assert len(body["days"]) == 14
    assert body["days"][0] == {"date": today.isoformat(), "capacity": 5, "booked": 0, "free": 5}
    assert body["days"][1] == {
        "date": tomorrow().isoformat(),
        "capacity": 5,
        "booked": 1,
        "free": 4,
    }
    assert body["days"][13]["date"] == (today + dt.timedelta(days=13)).isoformat()


def test_a_booked_day_keeps_its_own_capacity_and_a_full_day_has_none_free(net):
    start = timezone.localdate() + dt.timedelta(days=3)
    DepartmentDaySlots.objects.create(department=net.cardiology, date=start, capacity=2, booked=2)
    DepartmentDaySlots.objects.create(
        department=net.cardiology, date=start + dt.timedelta(days=1), capacity=8, booked=3
    )

    body = _get(
        api_client_for(net.referrer),  # the referrer picking a target may ask too
        department=net.cardiology.public_id,
        **{"from": start.isoformat()},
        days=3,
    ).json()

    assert [(d["capacity"], d["booked"], d["free"]) for d in body["days"]] == [
        (2, 2, 0),
        (8, 3, 5),
        (5, 0, 5),
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"days": "0"}, "days"),
        ({"days": "32"}, "days"),
        ({"days": "many"}, "days"),
        ({"from": "2026-13-01"}, "from"),
    ],
)
def test_bad_parameters_answer_422_in_the_api_format(net, params, field):
    response = _get(api_client_for(net.office), department=net.cardiology.public_id, **params)

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert [e["field"] for e in body["details"]["errors"]] == [field]


def test_the_department_is_required_and_must_be_an_id(net):
    api = api_client_for(net.office)

    missing = api.get(URL)
    malformed = _get(api, department="cardiology")

    assert (missing.status_code, malformed.status_code) == (422, 422)
    assert missing.json()["details"]["errors"][0]["field"] == "department"


def test_an_unknown_department_answers_404(net):
    response = _get(api_client_for(net.office), department=uuid.uuid4())

    assert response.status_code == 404
    assert response.json()["code"] == "department_not_found"


@pytest.mark.parametrize("role", [UserRole.PHARMACIST])
def test_a_role_that_neither_schedules_nor_refers_is_refused(net, role):
    response = _get(
        api_client_for(net.user(net.tertiary, role)), department=net.cardiology.public_id
    )

    assert response.status_code == 403
    assert response.json()["code"] == "referral_slots_forbidden"


def test_a_resident_is_refused_and_an_anonymous_caller_must_log_in(net):
    resident = UserFactory(
        username="res", role=UserRole.RESIDENT, institution=None, resident=net.resident
    )
    assert _get(api_client_for(resident), department=net.cardiology.public_id).status_code == 403
    assert Client().get(f"{URL}?department={net.cardiology.public_id}").status_code == 401


def test_the_openapi_document_describes_the_parameters_and_the_error_answers(net):
    operation = Client().get("/api/v1/openapi.json").json()["paths"][URL]["get"]

    params = {p["name"]: p for p in operation["parameters"]}
    assert set(params) == {"department", "from", "days"}
    assert params["department"]["required"] is True
    assert params["days"]["schema"]["minimum"] == 1
    assert params["days"]["schema"]["maximum"] == 31
    assert set(operation["responses"]) >= {"200", "403", "404", "422"}


def test_the_slots_upward_referrals_take_show_up_as_booked(net):
    day = tomorrow()
    for resident in (net.resident, ResidentFactory(registered_by=net.primary)):
        referral = services.referral_accept(
            referral=create_up(net, resident=resident), actor=net.office
        )
        services.referral_schedule(referral=referral, actor=net.office, date=day)

    body = _get(
        api_client_for(net.office), department=net.cardiology.public_id, **{"from": day}, days=1
    ).json()

    assert body["days"] == [{"date": day.isoformat(), "capacity": 5, "booked": 2, "free": 3}]


def test_the_worklist_api_filters_by_the_appointment_day_a_slot_was_booked_for(net):
    """The workbench's 今日预计到达 link: `?status=scheduled&appointment_date=…`."""
    booked = referral_in(net, "scheduled")  # tomorrow
    api = api_client_for(net.office)

    on_the_day = api.get(
        f"/api/v1/referrals?box=incoming&status=scheduled&appointment_date={tomorrow()}"
    )
    other_day = api.get(f"/api/v1/referrals?box=incoming&appointment_date={timezone.localdate()}")
    malformed = api.get("/api/v1/referrals?box=incoming&appointment_date=tomorrow")

    assert [r["id"] for r in on_the_day.json()["items"]] == [str(booked.public_id)]
    assert other_day.json()["items"] == []
    assert malformed.status_code == 422
