"""Demo logins, one per role (README lists them). Password from settings.DEMO_PASSWORD. The
primary-care logins join their institution's first family-doctor team."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from healthnet.models import (
    INSTITUTION_SCOPED_ROLES,
    Institution,
    Practitioner,
    PractitionerRole,
    Resident,
    Tier,
    User,
    UserRole,
)
from healthnet.services import audit_record
from signing.models import FamilyDoctorTeam, TeamMemberRole
from signing.services import team_member_add


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    tier: str | None  # the account works at the first active institution of this tier
    label: str


DEMO_ACCOUNTS = [
    DemoAccount("admin", UserRole.SYSTEM_ADMIN, None, "系统管理员 system admin (Django admin)"),
    DemoAccount("bureau", UserRole.BUREAU, None, "卫健委 health bureau (aggregates only)"),
    DemoAccount("hospital-coordinator", UserRole.REFERRAL_COORDINATOR, Tier.TERTIARY, "转诊办"),
    DemoAccount("hospital-doctor", UserRole.DOCTOR, Tier.TERTIARY, "医生 (三级医院)"),
    DemoAccount(
        "district-coordinator", UserRole.REFERRAL_COORDINATOR, Tier.DISTRICT, "转诊办 (区级医院)"
    ),
    DemoAccount("clinic-doctor", UserRole.DOCTOR, Tier.PRIMARY, "家庭医生 GP (社区)"),
    DemoAccount("clinic-public-health", UserRole.PUBLIC_HEALTH, Tier.PRIMARY, "公卫医生"),
    DemoAccount("clinic-nurse", UserRole.NURSE, Tier.PRIMARY, "护士 (社区)"),
    DemoAccount("clinic-clerk", UserRole.CLERK, Tier.PRIMARY, "挂号收费员 registration"),
    DemoAccount("clinic-pharmacist", UserRole.PHARMACIST, Tier.PRIMARY, "药师 pharmacy"),
    DemoAccount("clinic-admin", UserRole.INSTITUTION_ADMIN, Tier.PRIMARY, "机构管理员"),
    DemoAccount("resident", UserRole.RESIDENT, None, "居民 resident (their own code)"),
]


def demo_accounts_seed() -> list[tuple[DemoAccount, User | None, str]]:
    """Create or refresh every demo login. Idempotent. Returns (account, user or None, where)."""
    results = []
    with transaction.atomic():
        for account in DEMO_ACCOUNTS:
            user, where = _seed_one(account)
            results.append((account, user, where))
        audit_record(actor=None, action="seed_demo_accounts", object_type="user")
    return results


def _seed_one(account: DemoAccount) -> tuple[User | None, str]:
    institution = None
    resident = None
    if account.tier is not None:
        institution = (
            Institution.objects.filter(tier=account.tier, active=True).order_by("code").first()
        )
        if institution is None:
            return None, "no institution of this tier: run load_network first"
    if account.role == UserRole.RESIDENT:
        resident = Resident.objects.order_by("pk").first()
        if resident is None:
            return None, "no resident yet: run generate_demo first"
    user = User.objects.filter(username=account.username).first() or User(username=account.username)
    user.role = account.role
    user.institution = institution
    user.resident = resident
    user.is_staff = user.is_superuser = account.role == UserRole.SYSTEM_ADMIN
    user.first_name = account.label[:150]
    user.set_password(settings.DEMO_PASSWORD)
    if account.role in INSTITUTION_SCOPED_ROLES and user.practitioner_id is None:
        user.practitioner = Practitioner.objects.create(
            name=f"演示{account.label[:20]}", sex="female"
        )
    user.save()
    if user.practitioner_id is not None and institution is not None:
        PractitionerRole.objects.get_or_create(
            practitioner_id=user.practitioner_id,
            institution=institution,
            department=None,
            role=account.role,
        )
    where = institution.name if institution else (resident.name if resident else "—")
    return user, where


# The demo logins of a primary institution (DEMO_ACCOUNTS) join its first team, so a
# demo GP sees their own team's residents, contracts and follow-ups.
DEMO_LOGIN_TEAM_ROLES = {
    "clinic-doctor": TeamMemberRole.GP,
    "clinic-nurse": TeamMemberRole.NURSE,
    "clinic-public-health": TeamMemberRole.PUBLIC_HEALTH,
}


def demo_logins_join_teams() -> list[str]:
    """Idempotent. Returns a line per login that is now a team member."""
    joined = []
    for username, role in DEMO_LOGIN_TEAM_ROLES.items():
        user = User.objects.filter(username=username).select_related("practitioner").first()
        if user is None or user.practitioner is None or user.institution_id is None:
            continue
        team = (
            FamilyDoctorTeam.objects.filter(institution_id=user.institution_id)
            .order_by("code")
            .first()
        )
        if team is None:
            continue
        team_member_add(actor=None, team=team, practitioner=user.practitioner, role=role)
        joined.append(f"{username} → {team.name}")
    return joined
