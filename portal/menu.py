"""The portal's pages as data, and the one rule that decides who may use each of them.

A page is in a user's menu exactly when its rule holds for the user, and the same rule is what
makes the page answer 403 to anyone else (`page_view`): there is no second place to forget.
A user lands (after login, and at `/`) on the first page of their menu, so each role's landing page
follows from the order of PAGES: staff → 工作台, bureau → 数据看板, resident → 我的健康码.

Rules are named the way the permission catalogue names them (docs/design.md §9). Until
`healthnet.permissions.has_permission(user, name)` lands, RULES maps each name to a predicate:
the existing predicates of the owning apps where there is one, a role set otherwise. When the
catalogue lands, `allows()` becomes `has_permission(user, name)` and RULES goes away; the page
table and every view stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django_htmx.http import HttpResponseClientRedirect

from healthcodes.permissions import can_scan_healthcode, can_view_own_healthcode
from healthnet.models import User, UserRole
from healthnet.permissions import is_institution_staff
from referrals.permissions import can_create_referral
from referrals.transitions import RECEIVING_DECIDERS, RECEIVING_DESK
from signing.permissions import AGGREGATE_READER_ROLES, can_import_contracts
from signing.selectors import member_team_ids

Rule = Callable[[User], bool]

# Staff who work with referral worklists: everyone at an institution except the pharmacy,
# which takes no step of a referral (referrals/transitions.py) and sees identities only
# (docs/design.md §9).
REFERRAL_WORKLIST_ROLES = frozenset(
    {
        UserRole.DOCTOR,
        UserRole.NURSE,
        UserRole.PUBLIC_HEALTH,
        UserRole.REFERRAL_COORDINATOR,
        UserRole.CLERK,
        UserRole.INSTITUTION_ADMIN,
    }
)


def _staff_with_role(roles: frozenset[str]) -> Rule:
    def rule(user: User) -> bool:
        return is_institution_staff(user) and user.role in roles

    return rule


def _team_worker(user: User) -> bool:
    """A member of an active family-doctor team, or the admin of the teams' institution (the
    scope signing.selectors gives both)."""
    if not is_institution_staff(user):
        return False
    return user.role == UserRole.INSTITUTION_ADMIN or bool(member_team_ids(user))


def _contract_importer(user: User) -> bool:
    # The portal's import page works for one institution's teams: its admin.
    return is_institution_staff(user) and can_import_contracts(user)


def _aggregate_reader(user: User) -> bool:
    return user.is_authenticated and user.is_active and user.role in AGGREGATE_READER_ROLES


def _system_admin(user: User) -> bool:
    return user.is_authenticated and user.is_active and user.role == UserRole.SYSTEM_ADMIN


RULES: dict[str, Rule] = {
    "portal.staff_workbench": is_institution_staff,
    "referrals.view_worklist": _staff_with_role(REFERRAL_WORKLIST_ROLES),
    "referrals.create": can_create_referral,
    "referrals.decide": _staff_with_role(RECEIVING_DECIDERS),
    "referrals.receive_arrivals": _staff_with_role(RECEIVING_DESK),
    "healthcodes.scan": can_scan_healthcode,
    "signing.team_work": _team_worker,
    "signing.import_contracts": _contract_importer,
    "reports.view_dashboard": _aggregate_reader,
    "residents.view_own_records": can_view_own_healthcode,
    "portal.system_admin": _system_admin,
}


def allows(user: User, rule: str) -> bool:
    """Does the named rule hold for the user? (later: healthnet.permissions.has_permission)"""
    return user.is_authenticated and RULES[rule](user)


@dataclass(frozen=True)
class Page:
    name: str  # URL name in the "portal" namespace
    label: Promise  # zh-hans source, translated
    rule: str  # a key of RULES
    in_menu: bool = True


# Order = menu order; each role's first page is where it lands.
PAGES: tuple[Page, ...] = (
    Page("workbench", _("工作台"), "portal.staff_workbench"),
    Page("referrals-incoming", _("转入转诊"), "referrals.view_worklist"),
    Page("referrals-outgoing", _("转出转诊"), "referrals.view_worklist"),
    Page("referral-new", _("新建转诊"), "referrals.create"),
    Page("scan-station", _("扫码台"), "healthcodes.scan"),
    Page("team-contracts", _("签约居民"), "signing.team_work"),
    Page("team-followups", _("随访任务"), "signing.team_work"),
    Page("contract-import", _("签约导入"), "signing.import_contracts"),
    Page("system-home", _("系统管理"), "portal.system_admin"),
    Page("bureau-dashboard", _("数据看板"), "reports.view_dashboard"),
    Page("my-code", _("我的健康码"), "residents.view_own_records"),
    Page("my-contract", _("我的签约"), "residents.view_own_records"),
    Page("my-referrals", _("我的转诊"), "residents.view_own_records"),
)
PAGE_BY_NAME: dict[str, Page] = {page.name: page for page in PAGES}


def may_use(user: User, page_name: str) -> bool:
    return allows(user, PAGE_BY_NAME[page_name].rule)


@dataclass(frozen=True)
class MenuItem:
    page: Page
    url: str
    current: bool


def menu_for(user: User, *, current: str | None = None) -> list[MenuItem]:
    """The pages the user may use, in menu order, the current one marked."""
    return [
        MenuItem(page=page, url=reverse(f"portal:{page.name}"), current=page.name == current)
        for page in PAGES
        if page.in_menu and allows(user, page.rule)
    ]


def landing_page_for(user: User) -> Page | None:
    """Where the user lands: the first page of their menu (None: no page at all)."""
    return next((page for page in PAGES if page.in_menu and allows(user, page.rule)), None)


def page_view(name: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Guard a view with its page's rule: log in first, then 403 unless the rule holds.

    An htmx request (a partial, a poll) whose session has ended is told to load the login page
    as a whole page instead of having it swapped into a fragment."""
    page = PAGE_BY_NAME[name]  # an unknown name fails at import, not at the first request

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                if getattr(request, "htmx", False):
                    current = request.htmx.current_url_abs_path or reverse(f"portal:{name}")
                    return HttpResponseClientRedirect(redirect_to_login(current).url)
                return redirect_to_login(request.get_full_path())
            if not allows(request.user, page.rule):
                raise PermissionDenied(page.rule)
            request.portal_page = page  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        guarded.portal_page = page  # type: ignore[attr-defined]
        return guarded

    return decorator
