"""The family-doctor team's pages (portal issue 10 page 6): signed residents with their filters,
a contract and its actions (forms from the actions' input schemas, run through their services),
signing at the desk, follow-ups with the record form — per role, empty, out of scope (404), with
query counts flat in the list size. Expected rows are the clinic day's (tests/portal/scenario.py)
counted by hand."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from healthnet.models import AuditEvent, UserRole
from healthnet.national_id import decrypt_national_id
from referrals import services as referral_services
from referrals.models import ReferralDirection, ReferralStatus, ReferralUrgency
from signing import services as signing_services
from signing.models import Contract, ContractStatus, FollowUp, FollowUpStatus, OfferBasis
from tests.factories import InstitutionFactory, ResidentFactory, UserFactory
from tests.portal.scenario import _signed_contract, build_clinic
from tests.signing.helpers import GUARDIAN_ID

pytestmark = pytest.mark.django_db


def client_for(user, language: str | None = None) -> Client:
    client = Client()
    client.force_login(user)
    if language:
        client.cookies["django_language"] = language
    return client


def names_listed(html: str) -> list[str]:
    """The residents of a list page's table, in order."""
    body = html[html.index("<tbody>") : html.index("</tbody>")] if "<tbody>" in html else ""
    return re.findall(r'href="/residents/[0-9a-f-]+/">([^<]+)</a>', body)


def main_of(response) -> str:
    """A page's <main> (the header's forms carry a fresh CSRF token and the page's own URL)."""
    html = response.content.decode()
    return html[html.index("<main") : html.index("</main>")]


def national_id(resident) -> str:
    return decrypt_national_id(resident.national_id_encrypted)


@pytest.fixture
def clinic():
    return build_clinic()


# --- signed residents ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["doctor", "public_health", "institution_admin"])
def test_the_team_and_its_institutions_admin_see_the_signed_residents(clinic, role):
    page = client_for(clinic.users[role]).get("/team/contracts/").content.decode()

    # Soonest end first: 陈淑珍 ends in ~2 weeks; 刘志强's term ends a day before 张桂兰's.
    assert names_listed(page) == ["陈淑珍", "刘志强", "张桂兰"]
    assert "履约率 33%（1/3）" in page  # 1 of the 3 follow-ups due so far done on time
    full = national_id(clinic.resident)
    assert full not in page
    assert f"{full[:4]}**********{full[-4:]}" in page


def test_the_list_is_audited_like_the_apis(clinic):
    client_for(clinic.users["doctor"]).get("/team/contracts/?expiring_within=30")

    event = AuditEvent.objects.filter(action="list", object_type="contract").latest("pk")
    assert event.actor == clinic.users["doctor"]
    assert event.details == {"expiring_within": "30"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("expiring_within=30", ["陈淑珍"]),  # the workbench counter's link
        ("overdue_followups=true", ["刘志强"]),  # his one follow-up was due yesterday
        ("key_population=hypertension", []),
        ("key_population=elderly_65", ["陈淑珍", "刘志强", "张桂兰"]),  # born 1950 (factory)
        ("status=active", ["陈淑珍", "刘志强", "张桂兰"]),
        ("status=terminated", []),
    ],
)
def test_filters(clinic, query, expected):
    page = client_for(clinic.users["doctor"]).get(f"/team/contracts/?{query}").content.decode()

    assert names_listed(page) == expected
    if not expected:
        assert "没有符合筛选条件的签约居民" in page


def test_a_filter_value_the_api_would_refuse_is_dropped_and_said(clinic):
    response = client_for(clinic.users["doctor"]).get("/team/contracts/?status=bogus&team=t-01")

    page = response.content.decode()
    assert response.status_code == 200
    assert "部分筛选条件无效，已忽略：status" in page
    assert len(names_listed(page)) == 3


@pytest.mark.parametrize("number", ["99999999999999999999999", "abc", "-1", "0"])
def test_a_hostile_page_number_answers_a_page(clinic, number):
    response = client_for(clinic.users["doctor"]).get(f"/team/contracts/?page={number}")

    assert response.status_code == 200
    assert len(names_listed(response.content.decode())) == 3


def test_the_empty_states(clinic):
    gp_elsewhere = _gp_of_a_new_team()

    page = client_for(gp_elsewhere).get("/team/contracts/").content.decode()
    followups = client_for(gp_elsewhere).get("/team/follow-ups/").content.decode()

    assert "本团队还没有签约居民" in page
    assert "没有符合条件的随访任务" in followups
    assert "<tbody>" not in page


def _gp_of_a_new_team():
    from healthnet.models import Practitioner, Tier

    institution = InstitutionFactory(code="wh-p-02", name="乌达社区卫生服务中心", tier=Tier.PRIMARY)
    lead = Practitioner.objects.create(name="赵医生", sex="male", license_number="P-NEW-1")
    signing_services.team_create(
        actor=None, code="t-02", name="乌达第一团队", institution=institution, lead=lead
    )
    return UserFactory(
        username="gp-t02", role=UserRole.DOCTOR, institution=institution, practitioner=lead
    )


def test_another_institutions_team_sees_none_of_these_contracts(clinic):
    gp = _gp_of_a_new_team()
    contract = clinic.contracts[0]
    client = client_for(gp)

    assert names_listed(client.get("/team/contracts/").content.decode()) == []
    out_of_scope = client.get(f"/team/contracts/{contract.public_id}/")
    missing = client.get(f"/team/contracts/{uuid.uuid4()}/")
    assert out_of_scope.status_code == missing.status_code == 404
    assert main_of(out_of_scope) == main_of(missing)
    assert client.get(f"/team/contracts/{contract.public_id}/terminate/").status_code == 404


def test_the_list_costs_the_same_queries_for_3_or_13_contracts(clinic):
    client = client_for(clinic.users["doctor"])
    client.get("/team/contracts/")  # warm the session and caches

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/team/contracts/").status_code == 200
        return len(captured)

    few = queries()
    start = timezone.localdate() - dt.timedelta(days=40)
    for n in range(10):
        resident = ResidentFactory(registered_by=clinic.primary, name=f"居民{n}")
        resident.population_tags.create(population="hypertension")
        _signed_contract(clinic, resident, start)

    assert queries() == few


# --- a contract and its actions -----------------------------------------------------------------


def test_a_contract_shows_its_facts_follow_ups_and_the_actions_the_table_allows(clinic):
    contract = clinic.contracts[1]  # 刘志强, active

    page = client_for(clinic.users["doctor"]).get(f"/team/contracts/{contract.public_id}/")

    html = page.content.decode()
    actions = re.findall(r'href="/team/contracts/[0-9a-f-]+/(\w+)/"', html)
    assert actions == ["terminate"]  # active: only terminate (renew waits for renewal_due)
    assert "刘志强" in html
    assert "已逾期" in html  # his follow-up due yesterday
    assert AuditEvent.objects.filter(
        action="read", object_type="contract", object_id=str(contract.public_id)
    ).exists()


def test_terminate_needs_a_reason_then_ends_the_contract(clinic):
    contract = clinic.contracts[1]
    client = client_for(clinic.users["doctor"])
    url = f"/team/contracts/{contract.public_id}/terminate/"

    form = client.get(url).content.decode()
    refused = client.post(url, {"reason": "", "note": ""})
    done = client.post(url, {"reason": "moved_away", "note": "搬到呼和浩特"})

    assert '<select id="field-reason" name="reason" required>' in form
    assert refused.status_code == 422
    assert 'id="field-reason-error"' in refused.content.decode()
    assert done.status_code == 302
    assert done.url == f"/team/contracts/{contract.public_id}/"
    contract.refresh_from_db()
    assert (contract.status, contract.terminated_note) == (
        ContractStatus.TERMINATED,
        "搬到呼和浩特",
    )


def test_an_action_the_state_does_not_allow_is_refused_with_a_message(clinic):
    contract = clinic.contracts[1]  # active: no renewal yet
    client = client_for(clinic.users["doctor"])

    response = client.get(f"/team/contracts/{contract.public_id}/renew/", follow=True)

    assert response.redirect_chain == [(f"/team/contracts/{contract.public_id}/", 302)]
    assert "此签约当前不能续约" in response.content.decode()
    assert client.get(f"/team/contracts/{contract.public_id}/no-such/").status_code == 404


def test_renewal_when_due_offers_the_packages_the_resident_may_have(clinic):
    contract = clinic.contracts[2]  # 陈淑珍, ends in ~2 weeks
    signing_services.contracts_mark_renewal_due()
    client = client_for(clinic.users["doctor"])
    url = f"/team/contracts/{contract.public_id}/renew/"

    form = client.get(url).content.decode()
    response = client.post(
        url, {"signed_by": "resident", "method": "in_person", "packages": ["basic", "elderly-65"]}
    )

    # She is 65+: the basic and the elderly package are offered, and nothing else of the
    # catalogue's personalised packages.
    offered = re.findall(r'name="packages" value="([\w-]+)"', form)
    assert offered == ["basic", "elderly-65"]
    assert response.status_code == 302
    successor = Contract.objects.get(previous_contract=contract)
    assert response.url == f"/team/contracts/{successor.public_id}/"
    assert sorted(successor.packages.values_list("code", flat=True)) == ["basic", "elderly-65"]


def test_a_conflict_meanwhile_says_so_and_shows_the_new_state(clinic):
    contract = clinic.contracts[1]
    client = client_for(clinic.users["doctor"])
    url = f"/team/contracts/{contract.public_id}/terminate/"
    client.get(url)
    signing_services.contract_terminate(
        actor=clinic.users["institution_admin"], contract=contract, reason="died"
    )

    response = client.post(url, {"reason": "moved_away"}, follow=True)

    assert response.redirect_chain[-1] == (f"/team/contracts/{contract.public_id}/", 302)
    assert "已解约" in response.content.decode()


# --- signing at the desk ------------------------------------------------------------------------


def test_a_gp_signs_a_resident_found_by_the_id_number_on_their_card(clinic):
    # Registered at the hospital only: no tie to the clinic but the card at its desk.
    resident = ResidentFactory(registered_by=clinic.tertiary, name="马玉兰")
    number = national_id(resident)
    client = client_for(clinic.users["doctor"])

    found = client.post("/team/contracts/sign/", {"step": "find", "national_id": number})
    signed = client.post(
        "/team/contracts/sign/",
        {
            "step": "sign",
            "national_id": number,
            "team": "t-01",
            "packages": ["basic"],
            "signed_by": "resident",
            "method": "in_person",
        },
    )

    page = found.content.decode()
    assert found.status_code == 200
    assert found["Cache-Control"].startswith("max-age=0")  # never cached: the number is in it
    assert "马玉兰" in page
    assert f"{number[:4]}**********{number[-4:]}" in page
    assert re.findall(r'name="packages" value="([\w-]+)"', page) == ["basic", "elderly-65"]
    contract = Contract.objects.get(resident=resident)
    assert signed.status_code == 302
    assert signed.url == f"/team/contracts/{contract.public_id}/"
    assert (contract.status, contract.offer_basis) == (
        ContractStatus.ACTIVE,
        OfferBasis.DESK_IDENTIFICATION,
    )
    assert AuditEvent.objects.filter(
        action="read", object_id=str(resident.public_id), details__via="national_id_lookup"
    ).exists()


def test_an_unknown_or_malformed_number_is_said_so(clinic):
    client = client_for(clinic.users["doctor"])

    unknown = client.post(
        "/team/contracts/sign/", {"step": "find", "national_id": "150302194003150128"}
    )
    malformed = client.post("/team/contracts/sign/", {"step": "find", "national_id": "12345"})

    assert unknown.status_code == malformed.status_code == 422
    assert "未找到该身份证号码的居民" in unknown.content.decode()
    assert 'aria-invalid="true"' in malformed.content.decode()


def test_a_minor_needs_a_guardian_and_the_pending_offer_waits_for_one(clinic):
    child = ResidentFactory(
        registered_by=clinic.primary, birth_date=dt.date(2022, 3, 1), name="小明"
    )
    client = client_for(clinic.users["doctor"])
    number = national_id(child)

    found = client.post("/team/contracts/sign/", {"step": "find", "national_id": number})
    refused = client.post(
        "/team/contracts/sign/",
        {
            "step": "sign",
            "national_id": number,
            "team": "t-01",
            "signed_by": "resident",
            "method": "in_person",
        },
        follow=True,
    )

    assert "该居民为未成年人" in found.content.decode()
    assert 'value="guardian" id="field-signed_by-2" checked' in found.content.decode()
    offer = Contract.objects.get(resident=child)
    assert offer.status == ContractStatus.PENDING_SIGNATURE
    assert refused.redirect_chain[-1] == (f"/team/contracts/{offer.public_id}/sign/", 302)
    assert "须由监护人签署" in refused.content.decode()

    signed = client.post(
        f"/team/contracts/{offer.public_id}/sign/",
        {
            "signed_by": "guardian",
            "method": "guardian",
            "guardian_name": "小明妈妈",
            "guardian_relationship": "母亲",
            "guardian_national_id": GUARDIAN_ID,
        },
    )

    offer.refresh_from_db()
    assert signed.status_code == 302, signed.content.decode()[-3000:]
    assert (offer.status, offer.guardian_name) == (ContractStatus.ACTIVE, "小明妈妈")


def test_the_capacity_warning_before_and_after_signing(clinic):
    clinic.team.capacity = 4  # 3 signed: the 4th takes it to 100 % ≥ 95 %
    clinic.team.save()
    resident = ResidentFactory(registered_by=clinic.primary)
    number = national_id(resident)
    client = client_for(clinic.users["doctor"])

    found = client.post("/team/contracts/sign/", {"step": "find", "national_id": number})
    signed = client.post(
        "/team/contracts/sign/",
        {
            "step": "sign",
            "national_id": number,
            "team": "t-01",
            "signed_by": "resident",
            "method": "in_person",
        },
        follow=True,
    )
    full = client.post(
        "/team/contracts/sign/",
        {"step": "find", "national_id": national_id(ResidentFactory(registered_by=clinic.primary))},
    )

    assert "已签约 3 人，容量 4 人" in found.content.decode()
    assert "容量预警" in found.content.decode()
    assert "容量预警：新华社区第一家庭医生团队 已签约 4 人，容量 4 人" in signed.content.decode()
    assert "团队已满，不能再签约" in full.content.decode()


# --- follow-ups ---------------------------------------------------------------------------------


def test_follow_ups_due_overdue_first_with_a_record_form_for_the_team(clinic):
    page = client_for(clinic.users["doctor"]).get("/team/follow-ups/").content.decode()
    admin_page = client_for(clinic.users["institution_admin"]).get("/team/follow-ups/")

    assert names_listed(page) == ["刘志强", "张桂兰"]
    assert "逾期 1 天" in page
    assert page.count('<details class="row-form">') == 2
    # The admin follows the list; only the team's members deliver (and record) the services.
    assert names_listed(admin_page.content.decode()) == ["刘志强", "张桂兰"]
    assert '<details class="row-form">' not in admin_page.content.decode()


def test_recording_a_follow_up_without_javascript(clinic):
    followup = FollowUp.objects.get(contract=clinic.contracts[1])
    client = client_for(clinic.users["doctor"])
    url = f"/team/follow-ups/{followup.public_id}/record/"

    empty = client.post(url, {"outcome": "  ", "next": "/team/follow-ups/"})
    done = client.post(url, {"outcome": "血压 135/85，继续服药", "next": "/team/follow-ups/"})

    assert empty.status_code == 422
    assert "须填写随访结果" in empty.content.decode() or "此项必填" in empty.content.decode()
    assert done.status_code == 302
    assert done.url == "/team/follow-ups/"
    followup.refresh_from_db()
    assert (followup.status, followup.done_by) == (FollowUpStatus.DONE, clinic.users["doctor"])
    again = client.post(url, {"outcome": "再记一次"})
    assert again.status_code == 409
    assert "该随访已完成或已取消" in again.content.decode()


def test_recording_with_htmx_swaps_the_row(clinic):
    followup = FollowUp.objects.get(contract=clinic.contracts[0])

    response = client_for(clinic.users["doctor"]).post(
        f"/team/follow-ups/{followup.public_id}/record/",
        {"outcome": "血糖平稳", "next": "/evil.example/"},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.strip().startswith(f'<tr id="followup-{followup.public_id}"')
    assert "已完成" in html
    assert "已记录 张桂兰 的随访" in html


def test_a_follow_up_out_of_scope_answers_404(clinic):
    followup = FollowUp.objects.get(contract=clinic.contracts[0])
    gp = _gp_of_a_new_team()

    response = client_for(gp).post(
        f"/team/follow-ups/{followup.public_id}/record/", {"outcome": "x"}
    )

    assert response.status_code == 404
    followup.refresh_from_db()
    assert followup.status == FollowUpStatus.PENDING


def test_the_team_records_the_follow_up_and_the_downward_referral_closes(clinic):
    """The closing part of the portal issue's journey (a): a downward referral to the GP's
    institution, built through the referral services; the GP records the follow-up on the team
    page; the referral shows closed."""
    resident = clinic.contracts[1].resident  # 刘志强, signed with t-01
    referral, _ = referral_services.referral_create(
        actor=clinic.users["tertiary_doctor"],
        resident=resident,
        to_department=clinic.primary_dept,
        urgency=ReferralUrgency.ROUTINE,
        reason_code="return_to_primary_care",
        clinical_summary="术后稳定，转回社区",
        from_department=clinic.cardiology,
        resident_consent=True,
    )
    assert referral.direction == ReferralDirection.DOWN
    followup = FollowUp.objects.get(contract=clinic.contracts[1])
    client = client_for(clinic.users["doctor"])

    client.post(f"/team/follow-ups/{followup.public_id}/record/", {"outcome": "已随访，恢复良好"})
    record = client.get(f"/residents/{resident.public_id}/").content.decode()

    referral.refresh_from_db()
    assert referral.status == ReferralStatus.CLOSED
    assert f'data-referral="{referral.public_id}"' in record
    assert re.search(
        rf'data-referral="{referral.public_id}".*?data-status="closed">已闭环', record, re.S
    )


def test_the_follow_ups_list_costs_the_same_queries_for_2_or_12_rows(clinic):
    client = client_for(clinic.users["doctor"])
    client.get("/team/follow-ups/?state=pending")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/team/follow-ups/?state=pending").status_code == 200
        return len(captured)

    few = queries()
    for n in range(5):
        _signed_contract(
            clinic,
            ResidentFactory(registered_by=clinic.primary, name=f"随访{n}"),
            timezone.localdate() - dt.timedelta(days=10),
        )

    assert queries() == few


def test_the_team_pages_in_english(clinic):
    client = client_for(clinic.users["doctor"], language="en")

    contracts = client.get("/team/contracts/").content.decode()
    followups = client.get("/team/follow-ups/").content.decode()

    assert "<h1>Signed residents</h1>" in contracts
    assert "<h1>Follow-ups</h1>" in followups
    assert "Overdue by 1 day" in followups


def test_an_htmx_record_with_errors_answers_the_row_open_with_them(clinic):
    followup = FollowUp.objects.get(contract=clinic.contracts[0])

    response = client_for(clinic.users["doctor"]).post(
        f"/team/follow-ups/{followup.public_id}/record/",
        {"outcome": ""},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert response.status_code == 200  # htmx swaps a 2xx answer only
    assert '<details class="row-form" open>' in html
    assert 'aria-invalid="true"' in html
    followup.refresh_from_db()
    assert followup.status == FollowUpStatus.PENDING


def test_the_desk_signs_only_for_a_team_the_user_may_sign_for(clinic):
    resident = ResidentFactory(registered_by=clinic.primary)
    client = client_for(clinic.users["institution_admin"])  # the institution's teams: t-01

    elsewhere = client.post(
        "/team/contracts/sign/",
        {"step": "find", "national_id": national_id(resident), "team": "t-99"},
    )

    assert elsewhere.status_code == 422
    assert "请选择您可签约的团队" in elsewhere.content.decode()


def test_an_admin_switches_a_resident_to_another_team_of_the_institution(clinic):
    from healthnet.models import Practitioner

    lead = Practitioner.objects.create(name="钱医生", sex="male", license_number="P-T02")
    signing_services.team_create(
        actor=None, code="t-02", name="新华社区第二团队", institution=clinic.primary, lead=lead
    )
    contract = clinic.contracts[2]  # 陈淑珍, ends in ~2 weeks
    signing_services.contracts_mark_renewal_due()
    admin = client_for(clinic.users["institution_admin"])
    doctor = client_for(clinic.users["doctor"])
    url = f"/team/contracts/{contract.public_id}/switch/"

    detail = admin.get(f"/team/contracts/{contract.public_id}/").content.decode()
    doctor_detail = doctor.get(f"/team/contracts/{contract.public_id}/").content.decode()
    form = admin.get(url).content.decode()
    response = admin.post(
        url, {"team": "t-02", "signed_by": "resident", "method": "in_person", "packages": ["basic"]}
    )

    assert re.findall(r'href="/team/contracts/[0-9a-f-]+/(\w+)/"', detail) == [
        "renew",
        "switch",
        "terminate",
    ]
    # The GP acts for t-01 only: no team to switch into, so no switch button.
    assert re.findall(r'href="/team/contracts/[0-9a-f-]+/(\w+)/"', doctor_detail) == [
        "renew",
        "terminate",
    ]
    assert re.findall(r'<option value="([\w-]+)"', form) == ["t-02"]
    assert response.status_code == 302
    contract.refresh_from_db()
    successor = Contract.objects.get(previous_contract=contract)
    assert (contract.status, successor.team.code) == (ContractStatus.SWITCHED, "t-02")


def test_no_page_of_the_team_carries_inline_script_style_or_handlers(clinic):
    client = client_for(clinic.users["doctor"])
    paths = [
        "/team/contracts/",
        "/team/contracts/sign/",
        f"/team/contracts/{clinic.contracts[0].public_id}/",
        f"/team/contracts/{clinic.contracts[0].public_id}/terminate/",
        "/team/follow-ups/",
        f"/residents/{clinic.resident.public_id}/",
    ]
    admin = client_for(clinic.users["institution_admin"])
    pages = [client.get(path).content.decode() for path in paths]
    pages += [
        admin.get(path).content.decode() for path in ("/contracts/import/", "/institution/teams/")
    ]

    for page in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
        assert "<style" not in page
        assert not re.search(r"\sstyle=", page)
        assert not re.search(r"\son[a-z]+=", page)
