"""The referral page's actions (portal issue 10 page 3): each form made from the action's input
schema, posted (CSRF, POST then redirect), run through the service the API runs, with its effect
on the referral; refusals at their field with nothing changed; a referral someone else moved
meanwhile said plainly with its new state shown. An upward referral 新华社区 → 乌海市人民医院
心内科 (tests/referrals/support.py), worked by the hospital's referral office."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from healthnet.models import UserRole
from referrals import services
from referrals.models import DepartmentDaySlots, Referral, ReferralEvent, ReferralStatus
from tests.factories import MembershipFactory
from tests.referrals.support import build_network, create_up, referral_in, tomorrow

pytestmark = pytest.mark.django_db
S = ReferralStatus


@pytest.fixture
def net():
    return build_network()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def main_of(response) -> str:
    html = response.content.decode()
    return html[html.index("<main") : html.index("</main>")]


def page(client, referral) -> str:
    return main_of(client.get(f"/referrals/{referral.public_id}/"))


def post(client, referral, action, data=None, *, follow=False):
    return client.post(f"/referrals/{referral.public_id}/{action}/", data or {}, follow=follow)


def status_of(referral) -> str:
    return Referral.objects.get(pk=referral.pk).status


def test_accept_posts_then_redirects_to_the_referral_in_its_new_state(net):
    referral = create_up(net)
    client = client_for(net.office)

    response = post(client, referral, "accept", {"comment": "同意接收"})

    assert response.status_code == 302
    assert response.url == f"/referrals/{referral.public_id}/"
    assert status_of(referral) == S.ACCEPTED
    event = ReferralEvent.objects.filter(referral=referral).last()
    assert (event.action, event.actor, event.reason) == ("accept", net.office, "同意接收")
    html = main_of(client.get(response.url))
    assert "已接收：" in html
    assert 'id="referral-status">已接收<' in html


def test_the_forms_need_the_csrf_token():
    from tests.factories import UserFactory

    user = UserFactory(username="x", role=UserRole.DOCTOR)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post("/referrals/00000000-0000-0000-0000-000000000000/accept/", {})

    assert response.status_code == 403


def test_reject_offers_the_coded_reasons_and_needs_a_comment(net):
    referral = create_up(net)
    client = client_for(net.office)
    form = page(client, referral)
    reasons = re.findall(r'name="reason_code" value="([a-z_]+)"', form)
    assert reasons == [
        "no_capacity",
        "not_indicated",
        "wrong_department",
        "incomplete_information",
        "patient_unstable",
        "other",
    ]

    refused = post(client, referral, "reject", {"reason_code": "no_capacity", "comment": ""})

    assert refused.status_code == 422
    assert status_of(referral) == S.SUBMITTED
    html = main_of(refused)
    assert '<details class="row-form" id="action-reject" open>' in html
    assert 'id="reject-comment-error" class="field-error">此项必填。' in html

    done = post(client, referral, "reject", {"reason_code": "no_capacity", "comment": "床位已满"})

    assert done.status_code == 302
    referral.refresh_from_db()
    assert (referral.status, referral.rejection_reason) == (S.REJECTED, "no_capacity")


def test_redirect_suggests_alliance_partners_first_and_opens_the_successor(net):
    # The hospital's group takes in the district hospital: it comes before the specialist one.
    MembershipFactory(
        alliance=net.tertiary.alliance_memberships.get().alliance, institution=net.district
    )
    referral = create_up(net)
    client = client_for(net.office)

    form = page(client, referral)
    select = form[
        form.index('name="to_department"') : form.index(
            "</select>", form.index('name="to_department"')
        )
    ]
    options = re.findall(r'<option value="([0-9a-f-]+)">([^<]+)</option>', select)
    assert [label for _, label in options] == [
        "海勃湾区医院 · 内科 · 医联体 wh-group-1",
        "乌海市蒙医中医医院 · 蒙医科",
    ]  # not the referrer, not the hospital itself, not a lateral primary centre

    response = post(client, referral, "redirect", {"to_department": options[0][0], "comment": ""})

    referral.refresh_from_db()
    assert referral.status == S.REDIRECTED
    successor = referral.redirected_to
    assert successor.to_institution == net.district
    # the hospital no longer sees the successor (district ← primary): back to the old one
    assert response.url == f"/referrals/{referral.public_id}/"


def test_schedule_shows_each_day_with_its_free_slots_and_books_one(net):
    referral = referral_in(net, S.ACCEPTED)
    day = tomorrow()
    DepartmentDaySlots.objects.create(department=net.cardiology, date=day, capacity=5, booked=3)
    client = client_for(net.user(net.tertiary, UserRole.CLERK))  # the desk books

    form = page(client, referral)
    options = dict(re.findall(r'<option value="(\d{4}-\d\d-\d\d)"[^>]*>([^<]+)</option>', form))
    today = timezone.localdate()
    assert len(options) == 8  # today and the seven days of the booking deadline
    assert options[today.isoformat()].endswith("剩 5 / 5 个")
    assert options[day.isoformat()].endswith("剩 2 / 5 个")

    response = post(client, referral, "schedule", {"date": day.isoformat()})

    assert response.status_code == 302
    referral.refresh_from_db()
    assert (referral.status, referral.appointment_date) == (S.SCHEDULED, day)
    assert DepartmentDaySlots.objects.get(department=net.cardiology, date=day).booked == 4
    after = main_of(client.get(response.url))
    assert "剩 1 / 5 个" not in after  # scheduled: no schedule form any more
    assert "已预约" in after


def test_a_full_day_is_marked_and_booking_it_is_refused_at_the_date(net):
    referral = referral_in(net, S.ACCEPTED)
    day = tomorrow()
    DepartmentDaySlots.objects.create(department=net.cardiology, date=day, capacity=2, booked=2)
    client = client_for(net.office)
    assert "已约满（2 个）" in page(client, referral)

    response = post(client, referral, "schedule", {"date": day.isoformat()})

    assert response.status_code == 409
    assert status_of(referral) == S.ACCEPTED
    assert re.search(
        r'id="schedule-date-error" class="field-error">[^<]*预留号源已满', main_of(response)
    )


def test_a_day_before_today_is_refused(net):
    referral = referral_in(net, S.ACCEPTED)
    yesterday = timezone.localdate() - dt.timedelta(days=1)

    response = post(client_for(net.office), referral, "schedule", {"date": yesterday.isoformat()})

    assert response.status_code == 422
    assert "预约日期不能早于今天" in main_of(response)
    assert status_of(referral) == S.ACCEPTED


def test_arrive_and_no_show_are_buttons_that_move_a_scheduled_referral(net):
    arriving = referral_in(net, S.SCHEDULED)
    missing = referral_in(net, S.SCHEDULED, resident=_resident(net))
    client = client_for(net.user(net.tertiary, UserRole.NURSE))

    assert post(client, arriving, "arrive").status_code == 302
    assert post(client, missing, "no_show").status_code == 302

    assert (status_of(arriving), status_of(missing)) == (S.ARRIVED, S.NO_SHOW)
    assert DepartmentDaySlots.objects.get(department=net.cardiology, date=tomorrow()).booked == 1


def test_complete_with_the_feedback_form_and_return_to_primary_care(net):
    referral = referral_in(net, S.ARRIVED)
    client = client_for(net.receiving_doctor)
    form = page(client, referral)
    assert 'name="return_to_primary_care"' in form
    assert 'name="summary"' in form

    refused = post(client, referral, "complete", {"summary": ""})
    assert refused.status_code == 422
    assert status_of(referral) == S.ARRIVED

    response = post(
        client,
        referral,
        "complete",
        {
            "summary": "冠心病，支架术后稳定",
            "diagnosis": "冠心病",
            "recommendations": "社区随访血压",
            "return_to_primary_care": "on",
        },
    )

    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.status == S.COMPLETED
    assert referral.feedback_summary == "冠心病，支架术后稳定"
    assert referral.follow_on.direction == "down"
    assert referral.follow_on.to_institution == net.primary
    html = main_of(client.get(response.url))
    assert "冠心病，支架术后稳定" in html
    assert "下转单" in html


def test_the_referrer_acknowledges_the_feedback_and_may_cancel_with_a_reason(net):
    completed = referral_in(net, S.COMPLETED)
    submitted = create_up(net, resident=_resident(net))
    client = client_for(net.referrer)

    assert post(client, completed, "acknowledge", {"comment": "已阅"}).status_code == 302
    refused = post(client, submitted, "cancel", {"reason": ""})
    cancelled = post(client, submitted, "cancel", {"reason": "患者拒绝转诊"})

    assert status_of(completed) == S.CLOSED
    assert refused.status_code == 422
    assert cancelled.status_code == 302
    assert status_of(submitted) == S.CANCELLED


def test_an_action_not_allowed_to_the_role_is_refused_and_changes_nothing(net):
    referral = create_up(net)
    clerk = client_for(net.user(net.tertiary, UserRole.CLERK))  # the desk does not decide

    response = post(clerk, referral, "accept", {"comment": ""}, follow=True)

    assert status_of(referral) == S.SUBMITTED
    assert "您的角色不能执行此操作" in main_of(response)


def test_an_unknown_action_answers_404_and_get_is_not_allowed(net):
    referral = create_up(net)
    client = client_for(net.office)

    assert post(client, referral, "approve").status_code == 404
    assert client.get(f"/referrals/{referral.public_id}/accept/").status_code == 405


def test_someone_else_moved_it_meanwhile_the_page_says_so_and_shows_the_new_state(net):
    referral = create_up(net)
    client = client_for(net.office)
    assert "确认拒绝" in page(client, referral)  # the form the coordinator is filling in
    services.referral_accept(referral=referral, actor=net.receiving_doctor)  # a colleague

    response = post(
        client,
        referral,
        "reject",
        {"reason_code": "no_capacity", "comment": "床位已满"},
        follow=True,
    )

    assert response.redirect_chain == [(f"/referrals/{referral.public_id}/", 302)]
    html = main_of(response)
    assert "未能拒绝：该转诊已被他人处理，当前状态为“已接收”。" in html
    assert 'id="referral-status">已接收<' in html
    assert "确认拒绝" not in html  # the forms are those of the new state
    assert "确认预约" in html
    assert status_of(referral) == S.ACCEPTED


def _resident(net):
    from tests.factories import ResidentFactory

    return ResidentFactory(registered_by=net.primary)


def test_reschedule_after_a_no_show_offers_a_fortnight_and_books_once(net):
    referral = referral_in(net, S.NO_SHOW)
    client = client_for(net.office)
    form = page(client, referral)
    days = re.findall(r'<option value="(\d{4}-\d\d-\d\d)"', form)
    today = timezone.localdate()
    assert days[0] == today.isoformat()
    assert len(days) == 14

    day = today + dt.timedelta(days=3)
    response = post(client, referral, "reschedule", {"date": day.isoformat()})

    assert response.status_code == 302
    referral.refresh_from_db()
    assert (referral.status, referral.appointment_date) == (S.SCHEDULED, day)
    assert referral.reschedule_count == 1
