"""The portal's URLs. Every page is named in portal.menu.PAGES (its rule, its menu entry); the
placeholders reserve the names later pages take over, so links to them work today."""

from django.contrib.auth import views as auth_views
from django.urls import path

from portal import views
from portal.pages import (
    bureau,
    desk_cards,
    imports,
    institution_kpis,
    landing,
    referral_detail,
    referral_new,
    referral_worklists,
    resident,
    resident_records,
    resident_signin,
    residents,
    scan_station,
    teams,
)
from portal.pages.placeholders import placeholder

app_name = "portal"

# Pages still to be built: (path, name). The counters and menus already link to them.
RESERVED = [
    ("system/", "system-home"),
]

# --- the resident's phone and the desk's cards (issue 11) ---
RESIDENT_URLS = [
    path("accounts/phone/", resident_signin.phone_login, name="phone-login"),
    path("me/code/", resident.my_code, name="my-code"),
    path("me/code/live/", resident.my_code_live, name="my-code-live"),
    path("me/card/revoke/", resident.my_card_revoke, name="my-card-revoke"),
    path("me/display/", resident.display_mode, name="my-display"),
    path("me/family/", resident.my_family, name="my-family"),
    path("me/family/<uuid:ward_id>/", resident.family_code, name="family-code"),
    path("me/family/<uuid:ward_id>/live/", resident.family_code_live, name="family-code-live"),
    path("me/contract/", resident_records.my_contract, name="my-contract"),
    path("me/referrals/", resident_records.my_referrals, name="my-referrals"),
    path("me/referrals/<uuid:referral_id>/", resident_records.my_referral, name="my-referral"),
    path("desk/cards/", desk_cards.desk_cards, name="desk-cards"),
    path("desk/cards/<uuid:resident_id>/", desk_cards.desk_card, name="desk-card"),
    path(
        "desk/cards/<uuid:resident_id>/print/", desk_cards.desk_card_print, name="desk-card-print"
    ),
    path(
        "desk/cards/<uuid:resident_id>/revoke/",
        desk_cards.desk_card_revoke,
        name="desk-card-revoke",
    ),
    path(
        "desk/cards/<uuid:resident_id>/guardians/",
        desk_cards.desk_guardian_register,
        name="desk-guardian-register",
    ),
    path(
        "desk/cards/<uuid:resident_id>/guardians/<uuid:guardianship_id>/revoke/",
        desk_cards.desk_guardian_revoke,
        name="desk-guardian-revoke",
    ),
]

urlpatterns = [
    path("", landing.home, name="home"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/keepalive/", views.session_keepalive, name="session-keepalive"),
    path("workbench/", landing.workbench, name="workbench"),
    path("workbench/counters/", landing.workbench_counters_partial, name="workbench-counters"),
    *(path(route, placeholder(name), name=name) for route, name in RESERVED),
    *RESIDENT_URLS,
]

# --- family-doctor team, resident record, institution admin (issue 10 pages 6–8) ---------------
urlpatterns += [
    path("team/contracts/", teams.team_contracts, name="team-contracts"),
    path("team/contracts/sign/", teams.contract_sign_desk, name="team-contract-sign"),
    path("team/contracts/<uuid:contract_id>/", teams.contract_detail, name="team-contract"),
    path(
        "team/contracts/<uuid:contract_id>/<slug:action>/",
        teams.contract_action,
        name="team-contract-action",
    ),
    path("team/follow-ups/", teams.team_followups, name="team-followups"),
    path(
        "team/follow-ups/<uuid:followup_id>/record/",
        teams.followup_record,
        name="team-followup-record",
    ),
    path("residents/<uuid:resident_id>/", residents.resident_record, name="resident-record"),
    path("contracts/import/", imports.contract_import, name="contract-import"),
    path("contracts/import/<uuid:job_id>/", imports.import_job, name="contract-import-job"),
    path(
        "contracts/import/<uuid:job_id>/progress/",
        imports.import_job_progress,
        name="contract-import-progress",
    ),
    path(
        "contracts/import/<uuid:job_id>/report/",
        imports.import_job_report,
        name="contract-import-report",
    ),
    path("institution/teams/", imports.institution_teams, name="institution-teams"),
]

# --- referral worklists and the referral (issue 10 pages 2 and 3) -------------------------------
urlpatterns += [
    path(
        "referrals/incoming/",
        referral_worklists.referrals_incoming,
        name="referrals-incoming",
    ),
    path(
        "referrals/outgoing/",
        referral_worklists.referrals_outgoing,
        name="referrals-outgoing",
    ),
    path("referrals/<uuid:referral_id>/", referral_detail.referral_detail, name="referral-detail"),
    path(
        "referrals/<uuid:referral_id>/<slug:action>/",
        referral_detail.referral_action,
        name="referral-action",
    ),
]

# --- new referral and the scan station (issue 10 pages 4 and 5) ---------------------------------
urlpatterns += [
    path("referrals/new/", referral_new.referral_new, name="referral-new"),
    path("scan/", scan_station.scan_station, name="scan-station"),
]

# --- the bureau's dashboard (issue 12) ----------------------------------------------------------
urlpatterns += [
    path("bureau/", bureau.dashboard, name="bureau-dashboard"),
    path("bureau/kpi/<slug:code>/", bureau.kpi_detail, name="bureau-kpi"),
    path("institution/kpis/", institution_kpis.institution_kpis, name="institution-kpis"),
]
