"""The portal's URLs. Every page is named in portal.menu.PAGES (its rule, its menu entry); the
placeholders reserve the names later pages take over, so links to them work today."""

from django.contrib.auth import views as auth_views
from django.urls import path

from portal import views
from portal.pages import landing
from portal.pages.placeholders import placeholder

app_name = "portal"

# Pages still to be built: (path, name). The counters and menus already link to them.
RESERVED = [
    ("referrals/incoming/", "referrals-incoming"),
    ("referrals/outgoing/", "referrals-outgoing"),
    ("referrals/new/", "referral-new"),
    ("scan/", "scan-station"),
    ("team/contracts/", "team-contracts"),
    ("team/follow-ups/", "team-followups"),
    ("contracts/import/", "contract-import"),
    ("system/", "system-home"),
    ("bureau/", "bureau-dashboard"),
    ("me/code/", "my-code"),
    ("me/contract/", "my-contract"),
    ("me/referrals/", "my-referrals"),
]

urlpatterns = [
    path("", landing.home, name="home"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/keepalive/", views.session_keepalive, name="session-keepalive"),
    path("workbench/", landing.workbench, name="workbench"),
    path("workbench/counters/", landing.workbench_counters_partial, name="workbench-counters"),
    *(path(route, placeholder(name), name=name) for route, name in RESERVED),
]
