"""扫码台 (portal issue 10 page 5): the station calls the scan service of the API, shows the
resident's summary (ID masked, team, today's appointment, referrals marked arrived) or the
refusal's reason in Chinese, and the day's scan log of this user at this institution — as a
whole page without JavaScript, as the result card and log with htmx. Query counts are flat in the
log's size. Expected values come from the clinic day of tests/portal/scenario.py."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from healthcodes import keys
from healthcodes import services as healthcodes
from healthcodes.models import ScanEvent
from healthnet.errors import InvalidInput
from healthnet.models import User, UserRole
from healthnet.national_id import decrypt_national_id
from referrals.models import ReferralStatus
from tests.factories import ResidentFactory, UserFactory
from tests.portal.scenario import build_clinic

pytestmark = pytest.mark.django_db

SCAN = "/scan/"


@pytest.fixture(autouse=True)
def _fresh_key_caches():
    keys.invalidate_key_caches()
    yield
    keys.invalidate_key_caches()


@pytest.fixture
def clinic():
    return build_clinic()


def client_for(user, language: str | None = None) -> Client:
    client = Client()
    client.force_login(user)
    if language:
        client.cookies["django_language"] = language
    return client


def main_of(response) -> str:
    html = response.content.decode()
    return html[html.index("<main") : html.index("</main>")]


def phone_of(resident):
    """The resident's own login; a function giving a fresh dynamic code of their card."""
    user = User.objects.filter(resident=resident).first() or UserFactory(
        role=UserRole.RESIDENT, institution=None, resident=resident
    )
    card = healthcodes.healthcard_issue(actor=user, resident=resident)
    return lambda: healthcodes.healthcode_issue_dynamic(actor=user, card=card).text


def log_rows(html: str) -> list[str]:
    log = html[html.index('id="scan-log"') :]
    if "<tbody>" not in log:
        return []
    body = log[log.index("<tbody>") : log.index("</tbody>")]
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in body.split("<tr>")[1:]
    ]


# --- the page ------------------------------------------------------------------------------------


def test_the_station_starts_empty_with_the_field_focused_and_no_inline_script(clinic):
    response = client_for(clinic.users["clerk"]).get(SCAN)

    assert response.status_code == 200
    page = main_of(response)
    assert "<h1>扫码台</h1>" in page
    assert re.search(r'<input type="text" id="scan-code" name="code" value=""[^>]*autofocus', page)
    # the four purposes of the scan service, registration chosen
    assert re.findall(r'name="purpose" value="(\w+)"', page) == [
        "registration",
        "consultation",
        "dispensing",
        "health_management",
    ]
    assert 'value="registration" id="scan-purpose-registration" checked' in page
    assert "今日尚无扫码记录。" in page
    assert 'id="scan-result"' not in page
    html = response.content.decode()
    assert "/static/vendor/jsqr/jsQR.js" in html
    assert "/static/portal/js/scan-station.js" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+=", html)
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.parametrize("role", ["bureau", "resident", "system_admin"])
def test_roles_without_an_institution_desk_may_not_use_the_station(clinic, role):
    response = client_for(clinic.users[role]).post(
        SCAN, {"code": "HN1:x", "purpose": "consultation"}
    )

    assert response.status_code == 403
    assert ScanEvent.objects.count() == 0


# --- accepted ------------------------------------------------------------------------------------


def test_a_scan_at_the_desk_shows_the_resident_and_marks_today_s_referral_arrived(clinic):
    referral = clinic.scheduled_today  # 周海燕, T → P, scheduled at P today
    code = phone_of(referral.resident)()
    number = decrypt_national_id(referral.resident.national_id_encrypted)

    response = client_for(clinic.users["clerk"]).post(
        SCAN, {"code": code, "purpose": "registration"}
    )

    assert response.status_code == 200
    page = main_of(response)
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.ARRIVED
    assert "周海燕 · 挂号" in page
    assert f"{number[:4]}**********{number[-4:]}" in page
    assert number not in page
    assert "转诊已到达：乌海市人民医院 → 全科" in page
    assert "今日预约" in page
    assert "已到达" in page
    assert "未签约" in page
    # ready for the next scan: the field empty and focused, the purpose kept
    assert re.search(r'id="scan-code" name="code" value=""[^>]*autofocus', page)
    assert 'value="registration" id="scan-purpose-registration" checked' in page
    assert log_rows(page) == [
        f"{timezone.localtime(ScanEvent.objects.get().at):%H:%M:%S} 挂号 周*燕 通过"
    ]


def test_the_team_of_a_signed_resident_is_shown(clinic):
    resident = clinic.resident  # 张桂兰, signed with team t-01
    response = client_for(clinic.users["nurse"]).post(
        SCAN, {"code": phone_of(resident)(), "purpose": "health_management"}
    )

    page = main_of(response)
    assert "张桂兰 · 健康管理" in page
    assert "新华社区第一家庭医生团队（新华社区卫生服务中心）" in page


def test_with_htmx_only_the_result_card_and_the_log_come_back(clinic):
    code = phone_of(clinic.resident)()

    response = client_for(clinic.users["clerk"]).post(
        SCAN, {"code": code, "purpose": "consultation"}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<main" not in html
    assert "<form" not in html
    assert 'id="scan-result"' in html
    assert 'id="scan-log"' in html
    assert "张桂兰 · 就诊" in html
    assert len(log_rows(html)) == 1


# --- refused -------------------------------------------------------------------------------------


def test_an_expired_code_is_refused_with_its_reason_in_chinese(clinic):
    with time_machine.travel(timezone.now() - dt.timedelta(minutes=5), tick=False):
        code = phone_of(clinic.resident)()

    response = client_for(clinic.users["clerk"]).post(
        SCAN, {"code": code, "purpose": "registration"}
    )

    assert response.status_code == 422
    page = main_of(response)
    assert "健康码核验未通过" in page
    assert "健康码已过期，请居民刷新后重扫。" in page
    assert "张桂兰" not in page
    event = ScanEvent.objects.get()
    assert (event.result, event.reason) == ("refused", "expired")
    # an expired code is refused before its card is looked up: no resident in the log
    assert log_rows(page)[0].endswith("挂号 — 未通过 健康码已过期，请居民刷新后重扫。")


def test_a_replayed_code_is_refused_the_second_time_for_the_same_purpose(clinic):
    code = phone_of(clinic.resident)()
    client = client_for(clinic.users["clerk"])

    assert client.post(SCAN, {"code": code, "purpose": "consultation"}).status_code == 200
    again = client.post(SCAN, {"code": code, "purpose": "consultation"})

    assert again.status_code == 409
    assert "该动态健康码已用于此用途，请居民刷新后重扫。" in main_of(again)
    assert [row.split(" ", 1)[1] for row in log_rows(main_of(again))] == [
        "就诊 张*兰 未通过 该动态健康码已用于此用途，请居民刷新后重扫。",
        "就诊 张*兰 通过",
    ]


def test_a_code_of_a_revoked_card_is_refused(clinic):
    clerk = clinic.users["clerk"]
    code = phone_of(clinic.resident)()
    healthcodes.healthcard_revoke(actor=clerk, resident=clinic.resident, reason="手机丢失")

    response = client_for(clerk).post(SCAN, {"code": code, "purpose": "registration"})

    assert response.status_code == 422
    assert "该健康卡已注销，请居民使用新的健康码。" in main_of(response)
    assert ScanEvent.objects.get().reason == "revoked"


def test_a_refusal_with_htmx_is_a_swappable_answer(clinic):
    response = client_for(clinic.users["clerk"]).post(
        SCAN, {"code": "not a code", "purpose": "registration"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200  # htmx swaps only a 2xx answer
    assert "这不是健康码，请扫描居民的健康码。" in response.content.decode()


def test_an_empty_scan_or_an_unknown_purpose_changes_nothing(clinic):
    client = client_for(clinic.users["clerk"])

    empty = client.post(SCAN, {"code": "  ", "purpose": "registration"})
    unknown = client.post(SCAN, {"code": phone_of(clinic.resident)(), "purpose": "shopping"})

    assert (empty.status_code, unknown.status_code) == (422, 422)
    assert "未读到健康码，请重新扫描。" in main_of(empty)
    assert "请选择扫码用途。" in main_of(unknown)
    assert ScanEvent.objects.count() == 0


def test_the_refusal_in_english(clinic):
    response = client_for(clinic.users["clerk"], "en").post(
        SCAN, {"code": "not a code", "purpose": "registration"}
    )

    page = main_of(response)
    assert "Scan station" in page
    assert "This is not a health code" in page


# --- the day's log -------------------------------------------------------------------------------


def test_the_log_is_today_s_scans_of_this_user_at_this_institution(clinic):
    clerk, nurse = clinic.users["clerk"], clinic.users["nurse"]
    elsewhere = UserFactory(role=UserRole.CLERK, institution=clinic.tertiary)
    phone = phone_of(clinic.resident)
    with time_machine.travel(timezone.now() - dt.timedelta(days=1), tick=False):
        healthcodes.healthcode_scan(actor=clerk, code=phone(), purpose="registration")
    healthcodes.healthcode_scan(actor=nurse, code=phone(), purpose="registration")
    healthcodes.healthcode_scan(actor=elsewhere, code=phone(), purpose="registration")
    healthcodes.healthcode_scan(actor=clerk, code=phone(), purpose="dispensing")

    rows = log_rows(main_of(client_for(clerk).get(SCAN)))

    assert [row.split(" ", 1)[1] for row in rows] == ["取药 张*兰 通过"]


def test_the_log_s_queries_do_not_grow_with_its_length(clinic):
    clerk = clinic.users["clerk"]
    client = client_for(clerk)
    residents = [ResidentFactory(registered_by=clinic.primary) for _ in range(6)]
    phones = [phone_of(r) for r in residents]

    def queries() -> int:
        client.get(SCAN)  # the session and the menu's first reads
        with CaptureQueriesContext(connection) as captured:
            assert client.get(SCAN).status_code == 200
        return len(captured)

    healthcodes.healthcode_scan(actor=clerk, code=phones[0](), purpose="registration")
    few = queries()
    for phone in phones[1:]:
        healthcodes.healthcode_scan(actor=clerk, code=phone(), purpose="registration")
        with pytest.raises(InvalidInput):
            healthcodes.healthcode_scan(actor=clerk, code="not a code", purpose="consultation")
    many = queries()

    assert len(log_rows(main_of(client.get(SCAN)))) == 11
    assert many == few
