"""The resident's phone pages and the desk's 健康卡办理 page (issue 11), through the test client:
what each shows, that a resident reaches only their own records, that no page carries a full ID
number, the small polled region, the lost-phone flow and the elder-friendly display."""

from __future__ import annotations

import datetime as dt
import gzip
import re

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from healthcodes.models import HealthCard
from healthnet import services as healthnet_services
from healthnet.models import OutboxMessage, UserRole
from healthnet.national_id import decrypt_national_id
from referrals import services as referral_services
from tests.factories import ResidentFactory, UserFactory
from tests.portal.scenario import build_clinic

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic():
    return build_clinic()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def main_of(response) -> str:
    return re.search(r"<main.*</main>", response.content.decode(), re.S).group(0)


# --- 我的健康码 ------------------------------------------------------------------------------


def test_the_code_page_shows_the_qr_the_masked_name_and_a_check_line(clinic):
    page = main_of(client_for(clinic.users["resident"]).get("/me/code/"))
    masked_id = decrypt_national_id(clinic.resident.national_id_encrypted)
    masked_id = masked_id[:4] + "*" * 10 + masked_id[-4:]

    assert "<svg" in page
    assert '<p class="live-code__holder">张*兰</p>' in page  # 张桂兰, masked
    assert f"身份证 {masked_id}" in page
    assert 'hx-trigger="load delay:30s, hn:retry"' in page
    assert "X-HealthNet-Poll" in page


def test_without_javascript_the_code_page_reloads_itself(clinic):
    page = client_for(clinic.users["resident"]).get("/me/code/").content.decode()

    assert re.search(r'<noscript><meta http-equiv="refresh" content="\d+"></noscript>', page)


def test_the_polled_region_is_small_and_changes_code_every_30_seconds(clinic):
    client = client_for(clinic.users["resident"])
    t0 = timezone.now().replace(microsecond=0)

    def region(at):
        with time_machine.travel(at, tick=False):
            return client.get(
                "/me/code/live/",
                headers={"HX-Request": "true", "X-HealthNet-Poll": "1"},
                HTTP_ACCEPT_ENCODING="gzip",
            )

    first = region(t0)
    same = region(t0 + dt.timedelta(seconds=29))
    later = region(t0 + dt.timedelta(seconds=30))
    assert first["Content-Encoding"] == "gzip"
    assert len(first.content) < 3_000  # bytes on the wire a refresh
    html = [gzip.decompress(r.content).decode() for r in (first, same, later)]
    paths = [re.search(r'<path class="qrline"[^>]*d="([^"]+)"', h).group(1) for h in html]
    assert paths[0] == paths[1] != paths[2]
    assert "<main" not in html[0]  # the region only
    assert 'data-refresh-in="1"' in html[1]  # asks again when the code is due


def test_no_resident_or_desk_page_carries_a_full_id_number(clinic):
    resident = clinic.resident
    full = decrypt_national_id(resident.national_id_encrypted)
    resident_client = client_for(clinic.users["resident"])
    pages = [
        resident_client.get(url)
        for url in (
            "/me/code/",
            "/me/code/live/",
            "/me/contract/",
            "/me/referrals/",
            "/me/family/",
            "/me/card/revoke/",
        )
    ]
    desk = client_for(clinic.users["clerk"])
    pages.append(desk.get(f"/desk/cards/{resident.public_id}/"))
    pages.append(desk.post("/desk/cards/", {"national_id": full}, follow=True))
    for response in pages:
        assert response.status_code == 200
        assert full not in response.content.decode()
        assert full[-8:] not in response.content.decode()  # not even the birth date and tail


def test_the_page_speaks_english_when_asked(clinic):
    client = client_for(clinic.users["resident"])
    client.cookies["django_language"] = "en"

    page = client.get("/me/code/").content.decode()

    assert "My health code" in page
    assert "Refresh" in page


# --- lost phone ----------------------------------------------------------------------------


def test_reporting_the_phone_lost_revokes_the_card_and_signs_out_other_devices(clinic):
    login = clinic.users["resident"]
    here = client_for(login)
    lost = client_for(login)
    here.get("/me/code/")
    old = HealthCard.objects.get(resident=clinic.resident)

    confirm = here.get("/me/card/revoke/")
    assert "确认挂失" in confirm.content.decode()
    done = here.post("/me/card/revoke/", follow=True)

    assert done.redirect_chain == [("/me/code/", 302)]
    assert "已挂失" in done.content.decode()
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert HealthCard.objects.get(resident=clinic.resident, revoked_at__isnull=True).pk != old.pk
    assert here.get("/me/code/").status_code == 200  # this phone stays signed in
    assert lost.get("/me/code/").status_code == 302  # the lost one is signed out


# --- 适老化 ------------------------------------------------------------------------------


def test_the_elder_friendly_display_is_switched_on_and_remembered(clinic):
    client = client_for(clinic.users["resident"])
    assert 'class="layout-phone"' in client.get("/me/contract/").content.decode()

    switched = client.post("/me/display/", {"mode": "elder", "next": "/me/contract/"})

    assert switched.url == "/me/contract/"
    assert switched.cookies["hn_display"]["max-age"] == 365 * 86_400
    assert 'class="layout-phone layout-elder"' in client.get("/me/code/").content.decode()
    client.post("/me/display/", {"mode": "standard", "next": "https://evil.example/"})
    assert 'class="layout-phone"' in client.get("/me/code/").content.decode()


def test_the_display_switch_goes_back_only_to_this_site(clinic):
    response = client_for(clinic.users["resident"]).post(
        "/me/display/", {"mode": "elder", "next": "https://evil.example/"}
    )

    assert response.url == "/me/code/"


# --- 我的签约 ------------------------------------------------------------------------------


def test_my_contract_shows_the_team_its_phone_the_renewal_and_whats_due(clinic):
    clinic.primary.phone = "0473-3900001"
    clinic.primary.save()
    contract = clinic.contracts[0]  # the resident login's own: one follow-up due today

    page = main_of(client_for(clinic.users["resident"]).get("/me/contract/"))

    assert "新华社区第一家庭医生团队" in page
    assert '<a href="tel:0473-3900001">0473-3900001</a>' in page
    assert "王建华 · 全科医生 · 团队长" in page
    assert "李秀英 · 公卫医生" in page
    assert "基础服务包" in page
    renewal_from = contract.end_date - dt.timedelta(days=30)
    assert f"{renewal_from:%Y-%m-%d} 起可办理续约，请在 {contract.end_date:%Y-%m-%d} 前完成" in page
    due = contract.follow_ups.get()
    assert f"{due.due_date:%Y-%m-%d}</time> {due.item.name}" in page
    assert "履约中" in page


def test_a_resident_without_a_contract_is_told_where_to_sign(clinic):
    someone = ResidentFactory(registered_by=clinic.primary)
    login = UserFactory(role=UserRole.RESIDENT, institution=None, resident=someone)

    page = main_of(client_for(login).get("/me/contract/"))

    assert "您还没有签约家庭医生" in page
    assert "新华社区第一家庭医生团队" not in page


def test_the_follow_up_history_shows_what_was_done(clinic):
    expiring = clinic.contracts[2]  # its one follow-up was done half a year ago
    login = UserFactory(role=UserRole.RESIDENT, institution=None, resident=expiring.resident)

    page = main_of(client_for(login).get("/me/contract/"))

    assert "血压平稳，继续随访" in page


# --- 我的转诊 ------------------------------------------------------------------------------


def test_my_referrals_tell_status_in_plain_words_the_place_and_what_to_bring(clinic):
    scheduled = clinic.scheduled_today  # downward T → P, scheduled for today
    login = UserFactory(role=UserRole.RESIDENT, institution=None, resident=scheduled.resident)
    client = client_for(login)

    page = main_of(client.get("/me/referrals/"))

    assert "已预约：请按时到新华社区卫生服务中心就诊" in page
    assert f"{clinic.today:%Y-%m-%d}" in page
    assert "新华社区卫生服务中心 · 全科" in page
    assert "医保卡" in page
    assert "出院小结" in page  # a downward referral
    assert "由新华社区卫生服务中心的家庭医生团队随访" in page
    detail = client.get(f"/me/referrals/{scheduled.public_id}/")
    assert detail.status_code == 200
    assert "已预约" in main_of(detail)


def test_an_upward_referral_awaiting_a_decision(clinic):
    login = UserFactory(role=UserRole.RESIDENT, institution=None, resident=clinic.upward.resident)

    page = main_of(client_for(login).get("/me/referrals/"))

    assert "已提交，等待乌海市人民医院确认接收" in page
    assert "出院小结" not in page


def test_a_resident_gets_404_for_anyone_elses_referral(clinic):
    client = client_for(clinic.users["resident"])

    other = client.get(f"/me/referrals/{clinic.upward.public_id}/")
    unknown = client.get("/me/referrals/00000000-0000-0000-0000-000000000000/")

    assert other.status_code == unknown.status_code == 404
    assert "赵文博" not in main_of(client.get("/me/referrals/"))


def test_a_cancelled_referral_has_nothing_to_bring(clinic):
    referral = clinic.awaiting_decision[1]
    with time_machine.travel(clinic.now, tick=False):
        referral_services.referral_cancel(
            referral=referral, actor=clinic.users["tertiary_doctor"], reason="病情变化"
        )
    login = UserFactory(role=UserRole.RESIDENT, institution=None, resident=referral.resident)

    page = main_of(client_for(login).get("/me/referrals/"))

    assert "本次转诊已取消" in page
    assert "就诊请携带" not in page


# --- 亲属码 ------------------------------------------------------------------------------


def test_a_guardian_sees_and_shows_only_those_they_care_for(clinic):
    elder = ResidentFactory(registered_by=clinic.primary, name="陈奶奶")
    stranger = ResidentFactory(registered_by=clinic.primary, name="路人甲")
    healthnet_services.guardianship_register(
        actor=clinic.users["clerk"],
        guardian=clinic.resident,
        ward=elder,
        relationship="child",
    )
    client = client_for(clinic.users["resident"])

    family = main_of(client.get("/me/family/"))
    assert "陈*奶" in family
    assert "路人甲" not in family
    assert "路*甲" not in family
    code = client.get(f"/me/family/{elder.public_id}/")
    assert code.status_code == 200
    assert "陈*奶" in main_of(code)
    assert client.get(f"/me/family/{elder.public_id}/live/").status_code == 200
    assert client.get(f"/me/family/{stranger.public_id}/").status_code == 404
    assert client.get(f"/me/family/{stranger.public_id}/live/").status_code == 404


def test_without_guardianships_the_family_page_says_where_to_register(clinic):
    page = main_of(client_for(clinic.users["resident"]).get("/me/family/"))

    assert "窗口登记" in page


# --- phone sign-in -----------------------------------------------------------------------


def test_signing_in_by_phone_in_two_steps(clinic):
    clinic.resident.phone = "13912345678"
    clinic.resident.save()
    client = Client()

    first = client.post("/accounts/phone/", {"phone": "139 1234 5678", "action": "send"})
    assert "139****5678" in first.content.decode()
    assert 'autocomplete="one-time-code"' in first.content.decode()
    code = re.search(r"\d{6}", OutboxMessage.objects.get(recipient="13912345678").body).group(0)

    wrong = client.post(
        "/accounts/phone/",
        {
            "phone": "13912345678",
            "code": "000000" if code != "000000" else "111111",
            "action": "verify",
        },
    )
    assert "验证码错误或已过期" in wrong.content.decode()
    signed_in = client.post(
        "/accounts/phone/", {"phone": "13912345678", "code": code, "action": "verify"}
    )
    assert signed_in.url == "/"
    assert client.get("/").url == "/me/code/"
    assert client.get("/me/code/").wsgi_request.user == clinic.users["resident"]


def test_the_password_login_page_links_to_the_phone_sign_in():
    page = Client().get("/accounts/login/").content.decode()

    assert 'href="/accounts/phone/"' in page


# --- the desk: 健康卡办理 ------------------------------------------------------------------


def test_the_desk_finds_a_resident_by_id_and_prints_their_card(clinic):
    desk = client_for(clinic.users["clerk"])
    full = decrypt_national_id(clinic.resident.national_id_encrypted)

    found = desk.post("/desk/cards/", {"national_id": full})
    assert found.url == f"/desk/cards/{clinic.resident.public_id}/"
    page = main_of(desk.get(found.url))
    assert "张桂兰" in page
    printed = desk.post(f"{found.url}print/", {"format": "pdf"})
    assert printed.status_code == 200
    assert printed["Content-Type"] == "application/pdf"
    assert printed["Content-Disposition"].startswith("attachment;")


def test_the_desk_cannot_reach_a_resident_who_does_not_concern_it(clinic):
    stranger = ResidentFactory(registered_by=clinic.tertiary)
    desk = client_for(clinic.users["clerk"])

    found = desk.post(
        "/desk/cards/", {"national_id": decrypt_national_id(stranger.national_id_encrypted)}
    )
    assert found.status_code == 200
    assert "与本机构无关联" in found.content.decode()
    assert desk.get(f"/desk/cards/{stranger.public_id}/").status_code == 404
    assert (
        desk.post(f"/desk/cards/{stranger.public_id}/print/", {"format": "png"}).status_code == 404
    )


def test_the_desk_revokes_a_lost_card_and_registers_and_revokes_a_guardian(clinic):
    elder = ResidentFactory(registered_by=clinic.primary, name="陈奶奶")
    desk = client_for(clinic.users["clerk"])
    url = f"/desk/cards/{elder.public_id}/"
    desk.post(f"{url}print/", {"format": "png"})
    card = HealthCard.objects.get(resident=elder)

    desk.post(f"{url}revoke/", {"reason": "纸质卡丢失"})
    card.refresh_from_db()
    assert card.revoked_reason == "纸质卡丢失"

    guardian_id = decrypt_national_id(clinic.resident.national_id_encrypted)
    registered = desk.post(
        f"{url}guardians/",
        {"guardian_national_id": guardian_id, "relationship": "child"},
        follow=True,
    )
    assert "已登记照护人" in registered.content.decode()
    guardianship = elder.guardianships.get()
    assert guardianship.guardian == clinic.resident
    revoked = desk.post(
        f"{url}guardians/{guardianship.public_id}/revoke/", {"reason": "窗口撤销"}, follow=True
    )
    assert "已撤销照护关系" in revoked.content.decode()
    guardianship.refresh_from_db()
    assert guardianship.revoked_at is not None


def test_the_desk_says_why_a_guardian_cannot_be_registered(clinic):
    desk = client_for(clinic.users["clerk"])
    url = f"/desk/cards/{clinic.resident.public_id}/"

    yourself = desk.post(
        f"{url}guardians/",
        {
            "guardian_national_id": decrypt_national_id(clinic.resident.national_id_encrypted),
            "relationship": "child",
        },
        follow=True,
    )
    assert "照护人不能是本人" in yourself.content.decode()
    unknown = desk.post(
        f"{url}guardians/", {"guardian_national_id": "150300199001011234"}, follow=True
    )
    assert "身份证号码" in unknown.content.decode() or "未找到" in unknown.content.decode()
