"""Teams and their members."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from healthnet.errors import Conflict, Forbidden, InvalidInput
from healthnet.models import Institution, Practitioner, Tier, User
from healthnet.services import audit_record
from signing.models import (
    DEFAULT_TEAM_CAPACITY,
    FamilyDoctorTeam,
    TeamMember,
    TeamMemberRole,
)
from signing.services.common import audit_refusals

# --- teams --------------------------------------------------------------------------------------


@audit_refusals("team_create")
def team_create(
    *,
    actor: User | None,
    code: str,
    name: str,
    institution: Institution,
    lead: Practitioner | None = None,
    capacity: int = DEFAULT_TEAM_CAPACITY,
    service_area: list[str] | None = None,
) -> FamilyDoctorTeam:
    """A team is based at a primary-care institution (基层医疗机构)."""
    if actor is not None and not (
        actor.role == "system_admin"
        or (actor.role == "institution_admin" and actor.institution_id == institution.pk)
    ):
        raise Forbidden("forbidden", "只有机构管理员可以组建团队 (only the institution admin)")
    if institution.tier != Tier.PRIMARY:
        raise InvalidInput(
            "institution_not_primary",
            "家庭医生团队须设在基层医疗机构 (teams are based at primary-care institutions)",
            field="institution",
        )
    if capacity < 1:
        raise InvalidInput("capacity_invalid", "签约容量须为正数", field="capacity")
    try:
        with transaction.atomic():
            team = FamilyDoctorTeam.objects.create(
                code=code,
                name=name,
                institution=institution,
                lead=lead,
                capacity=capacity,
                service_area=list(service_area or []),
            )
            if lead is not None:
                TeamMember.objects.create(team=team, practitioner=lead, role=TeamMemberRole.GP)
            audit_record(
                actor=actor,
                action="team_create",
                object_type="family_doctor_team",
                object_id=team.public_id,
            )
    except IntegrityError:
        raise Conflict("team_code_exists", f"团队代码已存在: {code}") from None
    return team


def team_member_add(
    *,
    actor: User | None,
    team: FamilyDoctorTeam,
    practitioner: Practitioner,
    role: str,
    home_institution: Institution | None = None,
) -> TeamMember:
    if role not in TeamMemberRole.values:
        raise InvalidInput("member_role_invalid", "未知的团队角色", field="role")
    if role == TeamMemberRole.SPECIALIST and (
        home_institution is None or home_institution.tier == Tier.PRIMARY
    ):
        raise InvalidInput(
            "specialist_home_required",
            "专科医生须来自上级医院 (a specialist comes from a higher-tier hospital)",
            field="home_institution",
        )
    with transaction.atomic():
        member, created = TeamMember.objects.get_or_create(
            team=team,
            practitioner=practitioner,
            defaults={"role": role, "home_institution": home_institution},
        )
        if created:
            audit_record(
                actor=actor,
                action="team_member_add",
                object_type="family_doctor_team",
                object_id=team.public_id,
                details={"practitioner": str(practitioner.public_id), "role": role},
            )
    return member
