"""新建转诊 (portal issue 10 page 4): find the resident by ID number (the API's lookup, audited)
or by their code (the scan service), choose among the suggested targets (alliance partners
first, with free reserved slots), and create through the API's create service — validation
errors at their fields, the duplicate warning, and one referral however often the same form is
posted (its Idempotency-Key). Expected values come from tests/portal/scenario.py by hand."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from healthcodes import keys
from healthcodes import services as healthcodes
from healthcodes.models import ScanEvent
from healthnet.models import AuditEvent, Tier
from healthnet.national_id import decrypt_national_id
from referrals import services as referral_services
from referrals.models import Referral, ReferralDirection, ReferralStatus
from tests.factories import (
    AllianceFactory,
    DepartmentFactory,
    InstitutionFactory,
    MembershipFactory,
    ResidentFactory,
)
from tests.portal.scenario import build_clinic, build_people

pytestmark = pytest.mark.django_db

NEW = "/referrals/new/"


@pytest.fixture(autouse=True)
def _fresh_key_caches():
    keys.invalidate_key_caches()
    yield
    keys.invalidate_key_caches()


@pytest.fixture
def people():
    return build_people()


def client_for(user, language: str | None = None) -> Client:
    client = Client()
    client.force_login(user)
    if language:
        client.cookies["django_language"] = language
    return client


def main_of(response) -> str:
    html = response.content.decode()
    return html[html.index("<main") : html.index("</main>")]


def number_of(resident) -> str:
    return decrypt_national_id(resident.national_id_encrypted)


def targets_listed(html: str) -> list[str]:
    """The suggested targets, in order: 'institution · department'."""
    return [
        f"{institution} · {department.strip()}"
        for institution, department in re.findall(
            r'name="to_department"[^>]*>\s*<strong>([^<]+)</strong> · ([^<]+)<', html
        )
    ]


def key_of(html: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)


def form_for(people, who, **changes) -> dict[str, str]:
    values = {
        "step": "create",
        "resident": str(who.public_id),
        "idempotency_key": str(uuid.uuid4()),
        "direction": "up",
        "to_department": str(people.cardiology.public_id),
        "from_department": str(people.primary_dept.public_id),
        "urgency": "urgent",
        "reason_code": "I20.0",
        "criteria_codes": "chest_pain, ecg_change",
        "clinical_summary": "胸痛反复发作两周",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


# --- step 1: find the resident ------------------------------------------------------------------


def test_the_page_starts_with_the_two_ways_to_find_the_resident(people):
    response = client_for(people.users["doctor"]).get(NEW)

    assert response.status_code == 200
    page = main_of(response)
    assert "<h1>新建转诊</h1>" in page
    assert 'name="national_id"' in page
    assert 'name="code"' in page
    assert 'name="to_department"' not in page  # no form before a resident is found
    assert response["Cache-Control"].startswith("max-age=0")


def test_finding_by_id_number_shows_the_form_with_the_suggested_targets(people):
    resident = people.resident  # 张桂兰, registered at P
    number = number_of(resident)

    response = client_for(people.users["doctor"]).post(
        NEW, {"step": "find_id", "national_id": number}
    )

    assert response.status_code == 200
    page = main_of(response)
    assert '<h2 id="resident-title" class="card__title">张桂兰</h2>' in page
    assert f"{number[:4]}**********{number[-4:]}" in page
    assert number not in page
    # a community centre refers only up; the hospital's cardiology, 5 slots a day for a week
    assert re.findall(r'name="direction" value="(\w+)"', page) == ["up"]
    assert targets_listed(page) == ["乌海市人民医院 · 心内科"]
    assert "7天内余35个预留号源" in page
    uuid.UUID(key_of(page))  # a fresh key for this render
    lookup = AuditEvent.objects.get(action="read", object_type="resident")
    assert (lookup.actor, lookup.object_id, lookup.details) == (
        people.users["doctor"],
        str(resident.public_id),
        {"via": "national_id_lookup"},
    )


def test_each_render_of_the_form_has_its_own_key(people):
    client = client_for(people.users["doctor"])
    asked = {"step": "find_id", "national_id": number_of(people.resident)}

    first, second = (key_of(main_of(client.post(NEW, asked))) for _ in range(2))

    assert first != second


def test_an_unknown_number_and_a_resident_of_no_concern_get_the_same_answer(people):
    stranger = ResidentFactory(registered_by=people.tertiary)  # no tie to P
    client = client_for(people.users["doctor"])

    unknown = client.post(NEW, {"step": "find_id", "national_id": "110101199003078515"})
    unrelated = client.post(NEW, {"step": "find_id", "national_id": number_of(stranger)})

    for response in (unknown, unrelated):
        assert response.status_code == 422
        page = main_of(response)
        assert "未找到该居民，或该居民与本机构无关联（请先登记或就诊）。" in page
        assert 'name="to_department"' not in page
        assert stranger.name not in page


def test_finding_by_the_resident_s_code_checks_it_like_the_scan_station(people):
    resident = people.resident
    card = healthcodes.healthcard_issue(actor=people.users["resident"], resident=resident)
    code = healthcodes.healthcode_issue_dynamic(actor=people.users["resident"], card=card).text
    client = client_for(people.users["doctor"])

    found = client.post(NEW, {"step": "find_code", "code": code})
    replayed = client.post(NEW, {"step": "find_code", "code": code})

    assert found.status_code == 200
    assert '<h2 id="resident-title" class="card__title">张桂兰</h2>' in main_of(found)
    assert replayed.status_code == 422
    assert "该动态健康码已用于此用途，请居民刷新后重扫。" in main_of(replayed)
    assert list(ScanEvent.objects.order_by("pk").values_list("purpose", "result", "reason")) == [
        ("consultation", "accepted", ""),
        ("consultation", "refused", "replayed"),
    ]


def test_an_expired_code_finds_no_one(people):
    card = healthcodes.healthcard_issue(actor=people.users["resident"], resident=people.resident)
    with time_machine.travel(timezone.now() - dt.timedelta(minutes=5), tick=False):
        code = healthcodes.healthcode_issue_dynamic(actor=people.users["resident"], card=card).text

    response = client_for(people.users["doctor"]).post(NEW, {"step": "find_code", "code": code})

    assert response.status_code == 422
    page = main_of(response)
    assert "健康码已过期，请居民刷新后重扫。" in page
    assert "张桂兰" not in page


# --- suggestions ------------------------------------------------------------------------------


def test_alliance_partners_come_first_with_their_free_slots(people):
    other = InstitutionFactory(code="wh-t-00", name="乌海市第二医院", tier=Tier.TERTIARY)
    DepartmentFactory(institution=other, code="cardio-2", name="心血管科")
    DepartmentFactory(institution=other, code="closed", name="不接收科室", accepts_referrals=False)
    alliance = AllianceFactory(name="乌海医共体")
    start = timezone.localdate() - dt.timedelta(days=30)
    for institution, role in ((people.tertiary, "lead"), (people.primary, "member")):
        MembershipFactory(alliance=alliance, institution=institution, role=role, start_date=start)
    # one slot of the hospital's cardiology booked today
    booked, _ = referral_services.referral_create(
        actor=people.users["doctor"],
        resident=ResidentFactory(registered_by=people.primary),
        to_department=people.cardiology,
        urgency="routine",
        reason_code="I10",
    )
    coordinator = people.users["tertiary_coordinator"]
    booked = referral_services.referral_accept(referral=booked, actor=coordinator)
    referral_services.referral_schedule(
        referral=booked, actor=coordinator, date=timezone.localdate()
    )

    page = main_of(
        client_for(people.users["doctor"]).post(
            NEW, {"step": "find_id", "national_id": number_of(people.resident)}
        )
    )

    # the partner first though its code sorts after the other's; a closed department not listed
    assert targets_listed(page) == ["乌海市人民医院 · 心内科", "乌海市第二医院 · 心血管科"]
    listed = page[page.index('class="target-list"') : page.index("</ul>")]
    rows = listed.split("<li>")[1:]
    assert "医联体成员" in rows[0]
    assert "7天内余34个预留号源" in rows[0]
    assert "医联体成员" not in rows[1]
    assert "7天内余35个预留号源" in rows[1]


def test_the_direction_s_targets_come_alone_to_htmx(people):
    response = client_for(people.users["doctor"]).post(
        NEW,
        form_for(people, people.resident, step="targets"),
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<fieldset id="referral-targets"')
    assert "<form" not in html
    assert targets_listed(html) == ["乌海市人民医院 · 心内科"]


# --- create -------------------------------------------------------------------------------------


def test_the_form_creates_the_referral_through_the_api_s_service(people):
    gp = people.users["doctor"]

    response = client_for(gp).post(NEW, form_for(people, people.resident))

    referral = Referral.objects.get()
    assert response.status_code == 302
    assert response.url == f"/referrals/{referral.public_id}/"
    assert (
        referral.resident,
        referral.direction,
        referral.status,
        referral.from_institution,
        referral.from_department,
        referral.from_practitioner,
        referral.to_department,
        referral.urgency,
        referral.reason_code,
        referral.criteria_codes,
        referral.clinical_summary,
    ) == (
        people.resident,
        ReferralDirection.UP,
        ReferralStatus.SUBMITTED,
        people.primary,
        people.primary_dept,
        gp,
        people.cardiology,
        "urgent",
        "I20.0",
        ["chest_pain", "ecg_change"],
        "胸痛反复发作两周",
    )


def test_posting_the_same_form_twice_makes_one_referral(people):
    client = client_for(people.users["doctor"])
    form = form_for(people, people.resident)

    first = client.post(NEW, form)
    again = client.post(NEW, form, follow=True)

    assert Referral.objects.count() == 1
    assert again.redirect_chain[0][0] == first.url
    assert "此转诊已提交过，未重复创建。" in again.content.decode()


def test_a_missing_reason_and_target_are_shown_at_their_fields_and_nothing_is_made(people):
    response = client_for(people.users["doctor"]).post(
        NEW, form_for(people, people.resident, reason_code="", to_department=None)
    )

    assert response.status_code == 422
    page = main_of(response)
    assert '<small id="field-reason_code-error" class="field-error">此项必填。</small>' in page
    assert "请选择接收机构与科室。" in page
    assert 'id="field-reason_code" name="reason_code" value=""' in page
    assert "胸痛反复发作两周" in page  # what was typed stays
    assert Referral.objects.count() == 0


def test_a_department_not_suggested_is_refused(people):
    own = people.primary_dept  # the clinic's own department: no referral to oneself
    response = client_for(people.users["doctor"]).post(
        NEW, form_for(people, people.resident, to_department=str(own.public_id))
    )

    assert response.status_code == 422
    assert "请从建议的去向中选择接收科室。" in main_of(response)
    assert Referral.objects.count() == 0


def test_a_too_long_reason_code_is_refused_by_the_api_s_schema(people):
    response = client_for(people.users["doctor"]).post(
        NEW, form_for(people, people.resident, reason_code="X" * 41)
    )

    assert response.status_code == 422
    assert '<small id="field-reason_code-error" class="field-error">格式不正确。</small>' in (
        main_of(response)
    )
    assert Referral.objects.count() == 0


def test_a_second_open_referral_to_the_department_is_warned_of_and_not_made():
    clinic = build_clinic()
    existing = clinic.upward  # 刘志强 → cardiology, awaiting the hospital's decision

    response = client_for(clinic.users["doctor"]).post(NEW, form_for(clinic, existing.resident))

    assert response.status_code == 409
    page = main_of(response)
    assert "该居民已有一张转往此科室的未完结转诊单，未重复创建。" in page
    link = re.search(r'<a href="([^"]+)">查看已有转诊单</a>', page).group(1)
    assert link == f"/referrals/{existing.public_id}/"
    assert Referral.objects.filter(resident=existing.resident).count() == 1


def test_a_resident_out_of_scope_in_the_form_is_the_404(people):
    stranger = ResidentFactory(registered_by=people.tertiary)

    response = client_for(people.users["doctor"]).post(NEW, form_for(people, stranger))
    malformed = client_for(people.users["doctor"]).post(
        NEW, form_for(people, people.resident, resident="nobody")
    )

    assert (response.status_code, malformed.status_code) == (404, 404)
    assert Referral.objects.count() == 0


def test_the_hospital_refers_down_to_the_resident_s_team(people):
    """A signed resident going down goes to their team's institution, with their consent."""
    from tests.portal.scenario import _signed_contract

    _signed_contract(people, people.resident, timezone.localdate() - dt.timedelta(days=10))
    doctor = people.users["tertiary_doctor"]
    referral_services.referral_create(  # the hospital knows the resident by a referral in
        actor=people.users["doctor"],
        resident=people.resident,
        to_department=people.cardiology,
        urgency="routine",
        reason_code="I10",
    )
    client = client_for(doctor)
    page = main_of(client.post(NEW, {"step": "find_id", "national_id": number_of(people.resident)}))
    assert re.findall(r'name="direction" value="(\w+)"', page) == ["down"]
    assert targets_listed(page) == ["新华社区卫生服务中心 · 全科"]
    assert "签约团队所在机构" in page
    assert "新华社区第一家庭医生团队（新华社区卫生服务中心）" in page

    down = {
        "direction": "down",
        "to_department": str(people.primary_dept.public_id),
        "from_department": str(people.cardiology.public_id),
        "reason_code": "return_to_primary_care",
    }
    refused = client.post(NEW, form_for(people, people.resident, **down))
    assert refused.status_code == 422
    assert Referral.objects.filter(direction="down").count() == 0

    made = client.post(NEW, form_for(people, people.resident, resident_consent="on", **down))
    assert made.status_code == 302
    assert Referral.objects.get(direction="down").resident_consent is True


def test_the_page_in_english(people):
    response = client_for(people.users["doctor"], "en").post(
        NEW, {"step": "find_id", "national_id": number_of(people.resident)}
    )

    page = main_of(response)
    assert "<h1>New referral</h1>" in page
    assert "Submit referral" in page


@pytest.mark.parametrize("role", ["nurse", "clerk", "pharmacist"])
def test_roles_that_do_not_refer_may_not_post_either(people, role):
    response = client_for(people.users[role]).post(NEW, form_for(people, people.resident))

    assert response.status_code == 403
    assert Referral.objects.count() == 0


def test_a_coordinator_refers_too(people):
    coordinator = people.users["referral_coordinator"]
    response = client_for(coordinator).post(
        NEW, form_for(people, people.resident, from_department="")
    )

    assert response.status_code == 302
    assert Referral.objects.get().created_by == coordinator
