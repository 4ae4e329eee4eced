"""The referral worklists and the referral page (portal issue 10 pages 2 and 3): per role, empty,
out of scope (404), the workbench counters' query parameters, filters, the green channel on top,
deadline countdowns and overdue badges, pagination, query counts flat in the list size. The
expected rows are the clinic day's (tests/portal/scenario.py), counted by hand."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from healthnet.models import AuditEvent, Tier, UserRole
from healthnet.national_id import decrypt_national_id, mask_national_id
from referrals import services as referral_services
from referrals.models import ReferralUrgency
from tests.factories import DepartmentFactory, InstitutionFactory, ResidentFactory, UserFactory
from tests.portal.scenario import build_clinic, build_people

pytestmark = pytest.mark.django_db


def client_for(user, language: str | None = None) -> Client:
    client = Client()
    client.force_login(user)
    if language:
        client.cookies["django_language"] = language
    return client


def main_of(response) -> str:
    html = response.content.decode()
    return html[html.index("<main") : html.index("</main>")]


def names_listed(response) -> list[str]:
    """The residents of the worklist's table, in order."""
    html = main_of(response)
    if "<tbody>" not in html:
        return []
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    return re.findall(r'<td class="nowrap">([^<]+) <span', body)


def downward(clinic, name: str, urgency: str = ReferralUrgency.ROUTINE):
    """One more downward referral T → P, submitted now."""
    referral, _ = referral_services.referral_create(
        actor=clinic.users["tertiary_doctor"],
        resident=ResidentFactory(registered_by=clinic.tertiary, name=name),
        to_department=clinic.primary_dept,
        urgency=urgency,
        reason_code="return_to_primary_care",
        clinical_summary="病情稳定",
        from_department=clinic.cardiology,
    )
    return referral


@pytest.fixture
def clinic():
    return build_clinic()


# --- the worklists --------------------------------------------------------------------------


def test_incoming_lists_the_institution_referrals_by_deadline_with_overdue_badges(clinic):
    response = client_for(clinic.users["referral_coordinator"]).get("/referrals/incoming/")

    assert response.status_code == 200
    # 赵文博: decision due 3 days ago + 48 h (overdue); 周海燕: due at the end of today (her
    # appointment day); 孙丽华: due in 46 h.
    assert names_listed(response) == ["赵文博", "周海燕", "孙丽华"]
    html = main_of(response)
    first_row = html[html.index("<tbody>") :].split("</tr>")[0]
    assert 'class="row--overdue"' in first_row
    assert 'class="badge badge--overdue">超时 1 天' in first_row
    assert "剩 1 天 21 小时" in html or "剩 1 天 22 小时" in html  # 孙丽华: 46 h less a minute
    assert AuditEvent.objects.filter(
        actor=clinic.users["referral_coordinator"], action="list", object_type="referral"
    ).exists()


def test_outgoing_lists_what_the_institution_referred(clinic):
    response = client_for(clinic.users["doctor"]).get("/referrals/outgoing/")

    assert names_listed(response) == ["刘志强"]  # the upward referral P → T
    assert "乌海市人民医院" in main_of(response)


def test_the_open_green_channel_comes_before_every_deadline(clinic):
    downward(clinic, "钱国强", urgency=ReferralUrgency.EMERGENCY)  # due in 30 min: after 赵文博

    response = client_for(clinic.users["nurse"]).get("/referrals/incoming/")

    assert names_listed(response) == ["钱国强", "赵文博", "周海燕", "孙丽华"]
    first_row = main_of(response).split("<tbody>")[1].split("</tr>")[0]
    assert "badge--green-channel" in first_row


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?status=submitted", ["赵文博", "孙丽华"]),  # the 待我决定 counter's link
        ("?status=scheduled&appointment_date={today}", ["周海燕"]),  # 今日预计到达
        ("?direction=down&status=submitted&status=accepted&status=scheduled", None),
        ("?overdue=true", ["赵文博"]),
        ("?overdue=false&status=submitted", ["孙丽华"]),
        ("?urgency=urgent", []),
        ("?direction=up", []),
        ("?department={gp}", None),
        ("?resident={resident}", ["孙丽华"]),
        ("?status=scheduled&appointment_date=2000-01-01", []),
    ],
)
def test_filters_read_with_the_api_parameter_names(clinic, query, expected):
    everyone = ["赵文博", "周海燕", "孙丽华"]
    query = query.format(
        today=clinic.today.isoformat(),
        gp=clinic.primary_dept.public_id,
        resident=clinic.awaiting_decision[1].resident.public_id,
    )

    response = client_for(clinic.users["referral_coordinator"]).get(f"/referrals/incoming/{query}")

    assert response.status_code == 200
    assert names_listed(response) == (everyone if expected is None else expected)


def test_the_workbench_counters_link_to_lists_of_exactly_what_they_count(clinic):
    client = client_for(clinic.users["doctor"])
    workbench = client.get("/workbench/").content.decode()
    links = re.findall(r'href="(/referrals/incoming/\?[^"]+)"', workbench)
    assert links  # 待我决定, 今日预计到达, 待接收的下转

    counts = [len(names_listed(client.get(link.replace("&amp;", "&")))) for link in links]

    assert sorted(counts) == [1, 2, 3]


def test_a_refused_filter_is_dropped_and_named(clinic):
    response = client_for(clinic.users["referral_coordinator"]).get(
        "/referrals/incoming/?status=lost&urgency=urgent&department=nope"
    )

    assert response.status_code == 200
    html = main_of(response)
    assert "部分筛选条件无效，已忽略：department, status" in html
    assert names_listed(response) == []  # the urgency filter still holds


def test_the_lists_are_empty_with_a_friendly_note(db):
    people = build_people()
    client = client_for(people.users["clerk"])

    incoming = main_of(client.get("/referrals/incoming/"))
    outgoing = main_of(client.get("/referrals/outgoing/"))
    filtered = main_of(client.get("/referrals/incoming/?status=closed"))

    assert "暂无转入本机构的转诊。" in incoming
    assert "<table" not in incoming
    assert "本机构暂无转出的转诊。" in outgoing
    assert "没有符合筛选条件的转诊。" in filtered


def test_the_lists_page_through_25_rows_and_survive_a_hostile_page(clinic):
    for n in range(24):  # 3 + 24 = 27 incoming
        downward(clinic, f"居民{n:02d}")
    client = client_for(clinic.users["referral_coordinator"])

    first = client.get("/referrals/incoming/?status=submitted")
    second = client.get("/referrals/incoming/?status=submitted&page=2")
    hostile = client.get("/referrals/incoming/?status=submitted&page=99999999999")

    assert len(names_listed(first)) == 25
    assert len(names_listed(second)) == 1  # 26 submitted
    assert "第 2 / 2 页，共 26 条" in main_of(second)
    assert 'href="?status=submitted&amp;page=2"' in main_of(first)  # the filter stays
    assert hostile.status_code == 200
    assert len(names_listed(hostile)) == 25


def test_the_worklist_query_count_is_flat_in_the_list_size(clinic):
    client = client_for(clinic.users["referral_coordinator"])
    client.get("/referrals/incoming/")  # session and translations warmed

    with CaptureQueriesContext(connection) as few:
        assert len(names_listed(client.get("/referrals/incoming/"))) == 3
    for n in range(10):
        downward(clinic, f"居民{n:02d}")
    with CaptureQueriesContext(connection) as many:
        assert len(names_listed(client.get("/referrals/incoming/"))) == 13

    assert len(many) == len(few)


def test_the_worklist_in_english(clinic):
    client = client_for(clinic.users["referral_coordinator"], language="en")

    html = main_of(client.get("/referrals/incoming/"))

    assert "Incoming referrals" in html
    assert "overdue by 1 d " in html
    assert "Green channel" not in html  # none open today
    assert "急诊绿色通道" not in html


# --- the referral page ----------------------------------------------------------------------


def test_the_referral_page_shows_the_resident_masked_the_summary_and_the_timeline(clinic):
    referral = clinic.awaiting_decision[1]
    number = decrypt_national_id(referral.resident.national_id_encrypted)

    response = client_for(clinic.users["referral_coordinator"]).get(
        f"/referrals/{referral.public_id}/"
    )

    assert response.status_code == 200
    html = main_of(response)
    assert "孙丽华的转诊" in html
    assert mask_national_id(number) in html
    assert number not in html
    assert "急性心梗术后，病情稳定，转回社区康复随访" in html
    timeline = html[html.index('<ol class="timeline">') :]
    assert list(re.findall(r"<strong>([^<]+)</strong>", timeline)) == ["创建", "提交"]
    assert AuditEvent.objects.filter(
        action="read", object_type="referral", object_id=str(referral.public_id)
    ).exists()


@pytest.mark.parametrize(
    ("role", "clinical"),
    [
        ("doctor", True),
        ("nurse", True),
        ("public_health", True),
        ("referral_coordinator", True),
        ("clerk", False),
        ("institution_admin", False),
    ],
)
def test_the_clinical_summary_only_for_clinicians_and_coordinators(clinic, role, clinical):
    referral = clinic.awaiting_decision[1]

    html = main_of(client_for(clinic.users[role]).get(f"/referrals/{referral.public_id}/"))

    assert ("急性心梗术后" in html) is clinical
    assert ("您的角色不能查看临床信息。" in html) is not clinical


@pytest.mark.parametrize("role", ["pharmacist", "bureau", "resident", "system_admin"])
def test_the_referral_page_answers_403_to_roles_without_the_worklists(clinic, role):
    referral = clinic.awaiting_decision[1]

    response = client_for(clinic.users[role]).get(f"/referrals/{referral.public_id}/")

    assert response.status_code == 403


def test_a_referral_of_other_institutions_answers_404_like_a_missing_one(clinic):
    district = InstitutionFactory(code="wh-d-09", name="海南区医院", tier=Tier.DISTRICT)
    DepartmentFactory(institution=district)
    outsider = UserFactory(
        username="d-coordinator", role=UserRole.REFERRAL_COORDINATOR, institution=district
    )
    client = client_for(outsider)
    referral = clinic.awaiting_decision[1]

    assert client.get(f"/referrals/{referral.public_id}/").status_code == 404
    assert client.get("/referrals/00000000-0000-0000-0000-000000000000/").status_code == 404
    post = client.post(f"/referrals/{referral.public_id}/accept/", {"comment": ""})
    assert post.status_code == 404
    referral.refresh_from_db()
    assert referral.status == "submitted"


@pytest.mark.parametrize(
    ("user", "which", "buttons"),
    [
        ("referral_coordinator", 1, ["接收", "拒绝", "改转"]),  # receiving deciders
        ("doctor", 1, ["接收", "拒绝", "改转"]),
        ("clerk", 1, []),  # the desk does not decide
        ("clerk", "scheduled", ["到诊", "爽约"]),
        ("referral_coordinator", "scheduled", ["到诊", "爽约", "取消转诊"]),
        ("tertiary_doctor", 1, ["取消转诊"]),  # the referrer may withdraw it
        ("tertiary_coordinator", "scheduled", ["取消转诊"]),
    ],
)
def test_the_page_offers_exactly_the_actions_the_table_allows(clinic, user, which, buttons):
    referral = clinic.scheduled_today if which == "scheduled" else clinic.awaiting_decision[which]

    html = main_of(client_for(clinic.users[user]).get(f"/referrals/{referral.public_id}/"))

    section = html[html.index('id="actions-title"') : html.index('id="resident-title"')]
    offered = re.findall(
        r"<summary>([^<]+)</summary>|<button type=\"submit\"[^>]*>([^<]+)</button>", section
    )
    titles = [a or b for a, b in offered if not (b or "").startswith("确认")]
    assert titles == buttons
    if not buttons:
        assert "当前状态下您没有可执行的操作。" in section


def test_the_referral_page_query_count_does_not_grow_with_the_timeline(clinic):
    referral = clinic.scheduled_today
    client = client_for(clinic.users["clerk"])
    client.get(f"/referrals/{referral.public_id}/")

    with CaptureQueriesContext(connection) as before:
        client.get(f"/referrals/{referral.public_id}/")
    referral = referral_services.referral_arrive(referral=referral, actor=clinic.users["clerk"])
    with CaptureQueriesContext(connection) as after:
        client.get(f"/referrals/{referral.public_id}/")

    # arrived offers no clerk action: a schedule form less (its slots query), nothing more
    assert len(after) <= len(before)
    assert timezone.now()


def test_the_green_channel_stays_on_top_of_every_page_and_leaves_it_when_closed(clinic):
    emergency = downward(clinic, "钱国强", urgency=ReferralUrgency.EMERGENCY)
    for n in range(25):  # 3 + 25 others: two pages below the pinned one
        downward(clinic, f"居民{n:02d}")
    client = client_for(clinic.users["referral_coordinator"])

    second = names_listed(client.get("/referrals/incoming/?page=2"))
    # pinned, then the last 3 of 28 by deadline (赵文博, 周海燕, 孙丽华, 居民00… on page 1)
    assert second == ["钱国强", "居民22", "居民23", "居民24"]

    referral_services.referral_cancel(
        referral=emergency, actor=clinic.users["tertiary_doctor"], reason="患者已就近急诊"
    )
    first = names_listed(client.get("/referrals/incoming/"))
    assert first[0] == "赵文博"  # overdue, nearest deadline
    assert names_listed(client.get("/referrals/incoming/?page=2")) == [
        "居民22",
        "居民23",
        "居民24",
        "钱国强",  # cancelled: no deadline, last
    ]
