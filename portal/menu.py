"""The portal's pages as data, and the one rule that decides who may use each of them.

A page is in a user's menu exactly when its rule holds for the user, and the same rule is what
makes the page answer 403 to anyone else (`page_view`): there is no second place to forget.
A user lands (after login, and at `/`) on the first page of their menu, so each role's landing page
follows from the order of PAGES: staff → 工作台, bureau → 数据看板, resident → 我的健康码.

A page's rule is a permission of the catalogue (`healthnet.permissions.PERMISSIONS`: which roles)
and, where the page works on some records only, a scope predicate of the owning app (which
users of those roles): RULES names each pair once, for pages and workbench counters alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from healthcodes.permissions import (
    can_print_static_healthcodes,
    can_scan_healthcode,
    can_view_family_healthcodes,
    can_view_own_healthcode,
)
from healthnet.models import User, UserRole
from healthnet.permissions import has_permission, is_institution_staff
from referrals.permissions import can_create_referral
from referrals.transitions import REFERRAL_TABLE, Side
from signing.selectors import member_team_ids

Scope = Callable[[User], bool]


def _team_worker(user: User) -> bool:
    """A member of an active family-doctor team, or the admin of the teams' institution (the
    scope signing.selectors gives both)."""
    if not is_institution_staff(user):
        return False
    return user.role == UserRole.INSTITUTION_ADMIN or bool(member_team_ids(user))


def _receiving_may(action: str) -> Scope:
    """Staff whose role may take `action` on the receiving side (the referral workflow table)."""

    def scope(user: User) -> bool:
        return is_institution_staff(user) and REFERRAL_TABLE.may_ever_take(
            action, parties={Side.RECEIVING}, role=user.role
        )

    return scope


@dataclass(frozen=True)
class Rule:
    permission: str  # a name of healthnet.permissions.PERMISSIONS: the roles
    scope: Scope | None = None  # the owning app's predicate: which users of those roles


RULES: dict[str, Rule] = {
    "portal.staff_workbench": Rule("portal.workbench"),
    "referrals.view_worklist": Rule("referral.worklist", is_institution_staff),
    "referrals.create": Rule("referral.create", can_create_referral),
    "referrals.decide": Rule("referral.worklist", _receiving_may("accept")),
    "referrals.receive_arrivals": Rule("referral.worklist", _receiving_may("arrive")),
    "healthcodes.scan": Rule("healthcode.scan", can_scan_healthcode),
    "signing.team_work": Rule("contract.list", _team_worker),
    "signing.import_contracts": Rule("contract.import", is_institution_staff),
    # --- family-doctor team, resident record, institution admin (issue 10 pages 6–8) ---
    "signing.institution_teams": Rule("team.read_members", is_institution_staff),
    "residents.view_record": Rule("resident.read", is_institution_staff),
    "reports.view_dashboard": Rule("report.read"),
    "reports.view_institution": Rule("report.read_institution", is_institution_staff),
    "portal.system_admin": Rule("system.manage"),
    # --- the resident's phone and the desk's cards (issue 11) ---
    "residents.view_own_records": Rule("healthcode.view_own", can_view_own_healthcode),
    "residents.view_family_codes": Rule("healthcode.view_family", can_view_family_healthcodes),
    "healthcodes.desk_cards": Rule("healthcode.print_static", can_print_static_healthcodes),
}


def allows(user: User, rule: str) -> bool:
    """Does the named rule hold for the user: their role has the permission, and they are in
    the rule's scope?"""
    entry = RULES[rule]
    return has_permission(user, entry.permission) and (entry.scope is None or entry.scope(user))


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
    Page("desk-cards", _("健康卡办理"), "healthcodes.desk_cards"),
    Page("institution-teams", _("团队与成员"), "signing.institution_teams"),
    Page("institution-kpis", _("本机构指标"), "reports.view_institution"),
    Page("resident-record", _("居民档案"), "residents.view_record", in_menu=False),
    Page("referral-detail", _("转诊详情"), "referrals.view_worklist", in_menu=False),
    Page("system-home", _("系统管理"), "portal.system_admin"),
    Page("bureau-dashboard", _("数据看板"), "reports.view_dashboard"),
    Page("my-code", _("我的健康码"), "residents.view_own_records"),
    Page("my-contract", _("我的签约"), "residents.view_own_records"),
    Page("my-referrals", _("我的转诊"), "residents.view_own_records"),
    Page("my-family", _("亲属码"), "residents.view_family_codes"),
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


View = Callable[..., HttpResponseBase]  # a page may answer with a file (FileResponse)


def page_view(name: str) -> Callable[[View], View]:
    """Guard a view with its page's rule: log in first, then 403 unless the rule holds.

    An htmx request (a partial, a poll) whose session has ended is told to load the login page
    as a whole page instead of having it swapped into a fragment."""
    page = PAGE_BY_NAME[name]  # an unknown name fails at import, not at the first request

    def decorator(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                htmx: HtmxDetails | None = getattr(request, "htmx", None)
                if htmx:
                    current = htmx.current_url_abs_path or reverse(f"portal:{name}")
                    return HttpResponseClientRedirect(redirect_to_login(current).url)
                return redirect_to_login(request.get_full_path())
            if not allows(request.user, page.rule):
                raise PermissionDenied(page.rule)
            request.portal_page = page  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        guarded.portal_page = page  # type: ignore[attr-defined]
        return guarded

    return decorator
