"""Who may use which portal page: the menu and the answer come from one rule (portal/menu.py).

The expectation table below is written from the design (docs/design.md §1, §9 and the portal
issue), not from portal.menu: a wrong rule there fails here.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client, RequestFactory
from django.urls import URLPattern, get_resolver, reverse
from django.utils import translation
from django.views.defaults import server_error

from portal import urls as portal_urls
from tests.portal.scenario import build_people

pytestmark = pytest.mark.django_db

STAFF = {
    "doctor",  # the GP leading team t-01
    "public_health",  # a member of team t-01
    "nurse",  # not in a team
    "referral_coordinator",
    "clerk",
    "pharmacist",
    "institution_admin",
}
ROLES = sorted(STAFF | {"bureau", "resident", "system_admin"})
WORKLIST = STAFF - {"pharmacist"}

# page → roles that may use it
ALLOWED = {
    "workbench": STAFF,
    "referrals-incoming": WORKLIST,
    "referrals-outgoing": WORKLIST,
    "referral-new": {"doctor", "referral_coordinator"},
    "scan-station": STAFF,
    "team-contracts": {"doctor", "public_health", "institution_admin"},
    "team-followups": {"doctor", "public_health", "institution_admin"},
    "contract-import": {"institution_admin"},
    "desk-cards": WORKLIST,  # print cards, revoke them, register guardians: the desk roles
    "institution-teams": {"institution_admin"},
    "institution-kpis": {"institution_admin", "referral_coordinator"},
    "system-home": {"system_admin"},
    "bureau-dashboard": {"bureau", "system_admin"},
    "my-code": {"resident"},
    "my-contract": {"resident"},
    "my-referrals": {"resident"},
    "my-family": {"resident"},
}
LANDING = {
    **dict.fromkeys(STAFF, "/workbench/"),
    "bureau": "/bureau/",
    "resident": "/me/code/",
    "system_admin": "/system/",
}


@pytest.fixture
def people():
    return build_people()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def menu_links(html: str) -> list[str]:
    nav = re.search(r'<nav class="site-nav".*?</nav>', html, re.S)
    return re.findall(r'href="([^"]+)"', nav.group(0)) if nav else []


@pytest.mark.parametrize("role", ROLES)
def test_each_page_answers_the_role_it_is_for_and_403_to_the_others(people, role):
    client = client_for(people.users[role])

    answers = {page: client.get(reverse(f"portal:{page}")).status_code for page in ALLOWED}

    assert answers == {page: 200 if role in roles else 403 for page, roles in ALLOWED.items()}


@pytest.mark.parametrize("role", ROLES)
def test_the_menu_lists_exactly_the_pages_the_role_may_use(people, role):
    client = client_for(people.users[role])

    page = client.get(LANDING[role]).content.decode()

    expected = {reverse(f"portal:{name}") for name, roles in ALLOWED.items() if role in roles}
    assert set(menu_links(page)) == expected
    assert 'aria-current="page"' in page  # the landing page is marked in the menu


@pytest.mark.parametrize("role", ROLES)
def test_each_role_lands_on_its_own_home_after_login(people, role):
    client = Client()

    response = client.post(
        "/accounts/login/", {"username": people.users[role].username, "password": "healthnet-demo"}
    )
    assert response.url == "/"

    assert client.get("/").url == LANDING[role]


def test_a_nurse_outside_any_team_has_no_team_pages_but_joins_them_with_the_team(people):
    from signing import services

    nurse = people.users["nurse"]
    assert client_for(nurse).get("/team/follow-ups/").status_code == 403

    practitioner = people.team.lead.__class__.objects.create(name="护士甲", sex="female")
    nurse.practitioner = practitioner
    nurse.save()
    services.team_member_add(actor=None, team=people.team, practitioner=practitioner, role="nurse")

    assert client_for(nurse).get("/team/follow-ups/").status_code == 200


def test_the_403_page_is_friendly_and_keeps_the_layout(people):
    response = client_for(people.users["pharmacist"]).get("/referrals/incoming/")

    assert response.status_code == 403
    page = response.content.decode()
    assert "无权访问此页面" in page
    assert "当前角色：药师" in page
    assert menu_links(page) == ["/workbench/", "/scan/"]  # still the pharmacist's own menu
    assert 'href="/"' in page


def test_the_403_page_in_english(people):
    client = client_for(people.users["resident"])
    client.cookies["django_language"] = "en"

    page = client.get("/workbench/").content.decode()

    assert "You may not use this page" in page


def test_an_unknown_address_answers_the_friendly_404(people):
    response = client_for(people.users["doctor"]).get("/no-such-page/")

    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()


def test_the_500_page_renders_without_a_request_context():
    # In the default language: an earlier request of this worker may have left English active
    # (LocaleMiddleware activates per request and does not reset after it).
    with translation.override("zh-hans"):
        response = server_error(RequestFactory().get("/"))

    page = response.content.decode()
    assert response.status_code == 500
    assert "系统出错了" in page
    assert "csrfmiddlewaretoken" not in page  # no form that could only fail


def test_pages_need_a_login_and_come_back_after_it(people):
    response = Client().get("/team/contracts/?expiring_within=30")

    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/team/contracts/%3Fexpiring_within%3D30"


def test_an_htmx_poll_after_the_session_ended_loads_the_login_page_whole(people):
    response = Client().get(
        "/workbench/counters/",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/workbench/"},
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == "/accounts/login/?next=/workbench/"


def test_every_portal_view_is_guarded_by_a_page_rule():
    """No view escapes the rule table: each names its page in portal.menu.PAGES."""
    # home redirects to the landing page (login needed); the keepalive answers any login 204;
    # phone-login is the residents' login
    open_views = {"home", "login", "logout", "session-keepalive", "phone-login"}
    guarded = {}
    for pattern in portal_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name in open_views:
            continue
        guarded[pattern.name] = pattern.callback.portal_page.name
    parts = {  # partials and actions answer with their page's rule
        "workbench-counters": "workbench",
        "my-code-live": "my-code",
        "my-card-revoke": "my-code",
        "my-display": "my-code",
        "family-code": "my-family",
        "family-code-live": "my-family",
        "my-referral": "my-referrals",
        "desk-card": "desk-cards",
        "desk-card-print": "desk-cards",
        "desk-card-revoke": "desk-cards",
        "desk-guardian-register": "desk-cards",
        "desk-guardian-revoke": "desk-cards",
        # the team, record and import pages' own views answer under their page's rule
        "team-contract-sign": "team-contracts",
        "team-contract": "team-contracts",
        "team-contract-action": "team-contracts",
        "team-followup-record": "team-followups",
        "resident-record": "resident-record",
        "contract-import-job": "contract-import",
        "contract-import-progress": "contract-import",
        "contract-import-report": "contract-import",
        # the referral page and its actions answer under the worklists' rule
        "referral-detail": "referral-detail",
        "referral-action": "referral-detail",
        "bureau-kpi": "bureau-dashboard",  # a KPI's page answers under the dashboard's rule
    }
    assert guarded == {**{name: name for name in ALLOWED}, **parts}
    assert get_resolver().resolve("/workbench/counters/").func.portal_page.name == "workbench"


def test_the_layout_has_a_skip_link_a_main_landmark_and_labelled_controls(people):
    page = client_for(people.users["doctor"]).get("/workbench/").content.decode()

    assert '<a class="skip-link" href="#main">' in page
    assert '<main id="main"' in page
    assert '<nav class="site-nav" aria-label="主菜单">' in page
    # The language switch and logout are forms that POST with the CSRF token.
    assert re.search(r'action="/i18n/setlang/" method="post">\s*<input type="hidden"', page)
    assert page.count('name="csrfmiddlewaretoken"') == 2
    assert '<span class="site-user__name">王建华</span>' in page  # family name first
    assert '<span class="site-user__role">医生</span>' in page
    assert '<span class="site-user__place">新华社区卫生服务中心</span>' in page


def test_no_inline_script_style_or_event_handler_in_any_page(people):
    """Content-Security-Policy 'self': scripts and styles come from files only."""
    pages = [client_for(people.users[role]).get(LANDING[role]).content.decode() for role in ROLES]
    pages.append(Client().get("/accounts/login/").content.decode())
    for page in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
        assert "<style" not in page
        assert not re.search(r"\sstyle=", page)
        assert not re.search(r"\son[a-z]+=", page)


@pytest.mark.parametrize(
    ("role", "heading", "purpose"),
    [
        ("system_admin", "系统管理", "用户、机构与密钥"),
    ],
)
def test_the_landing_pages_still_to_come_say_what_they_will_hold(people, role, heading, purpose):
    page = client_for(people.users[role]).get(LANDING[role]).content.decode()

    assert f"<h1>{heading}</h1>" in page
    assert purpose in page
    assert "此页面即将上线" in page
    assert "data-counter" not in page  # no staff counters outside the staff workbench


@pytest.mark.parametrize("role", ROLES)
def test_the_referral_page_answers_the_worklist_roles_and_403_to_the_others(people, role):
    """A referral into the roles' institution: its page follows the worklists' rule."""
    from referrals import services as referral_services
    from tests.factories import ResidentFactory

    referral, _ = referral_services.referral_create(
        actor=people.users["tertiary_doctor"],
        resident=ResidentFactory(registered_by=people.tertiary),
        to_department=people.primary_dept,
        urgency="routine",
        reason_code="return_to_primary_care",
    )
    client = client_for(people.users[role])

    answer = client.get(reverse("portal:referral-detail", args=[referral.public_id]))

    assert answer.status_code == (200 if role in WORKLIST else 403)


@pytest.mark.parametrize(
    ("page", "role", "heading", "empty"),
    [
        ("referral-new", "doctor", "新建转诊", "按身份证号码查找"),
        ("referral-new", "referral_coordinator", "新建转诊", "扫描居民健康码"),
        ("scan-station", "clerk", "扫码台", "今日尚无扫码记录。"),
        ("scan-station", "pharmacist", "扫码台", "今日尚无扫码记录。"),
    ],
)
def test_the_new_referral_and_scan_pages_are_built_and_start_empty(
    people, page, role, heading, empty
):
    html = client_for(people.users[role]).get(reverse(f"portal:{page}")).content.decode()

    assert f"<h1>{heading}</h1>" in html
    assert empty in html
    assert "此页面即将上线" not in html
