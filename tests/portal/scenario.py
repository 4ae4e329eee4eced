"""A small clinic day for the portal's tests, the browser tests and the README screenshot, built
through the owning apps' services (never rows written around them), relative to a given moment.

The community health centre 新华社区卫生服务中心 (P) and the city hospital 乌海市人民医院 (T):

- at P, for its staff (a GP leading team t-01, a public-health doctor in the team, a nurse, a
  referral coordinator, a clerk, a pharmacist and the admin):
  - two downward referrals T → P awaiting P's decision, one of them past its 48 h deadline;
  - one downward referral T → P accepted and scheduled for today;
  - three signed residents: one follow-up due today, one due yesterday (overdue), and a contract
    ending in about two weeks whose one follow-up was done half a year ago;
- at T: one upward referral P → T awaiting T's decision;
- a bureau login, a resident login (the resident with the follow-up due today) and a system admin.

So the GP's 工作台 reads, by hand: 待我决定 2 (1 overdue), 今日预计到达 1, 待接收的下转 3
(1 overdue), 本周到期随访 2 (1 overdue), 30天内到期签约 1.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

import time_machine
from django.utils import timezone

from healthnet.models import Department, Institution, Practitioner, Resident, Tier, User, UserRole
from referrals import escalation
from referrals import services as referral_services
from referrals.models import Referral, ReferralUrgency
from signing import services as signing_services
from signing.catalogue import service_packages_load
from signing.models import Contract, FamilyDoctorTeam, TeamMemberRole
from signing.terms import term_end
from tests.factories import DepartmentFactory, InstitutionFactory, ResidentFactory, UserFactory

PASSWORD = "healthnet-demo"  # settings.DEMO_PASSWORD, the factories' password
_licences = itertools.count(1)


@dataclass
class Clinic:
    now: dt.datetime
    primary: Institution
    tertiary: Institution
    primary_dept: Department
    cardiology: Department
    team: FamilyDoctorTeam
    users: dict[str, User] = field(default_factory=dict)
    awaiting_decision: list[Referral] = field(default_factory=list)
    scheduled_today: Referral | None = None
    upward: Referral | None = None
    contracts: list[Contract] = field(default_factory=list)
    resident: Resident | None = None

    @property
    def today(self) -> dt.date:
        return timezone.localdate(self.now)


def _practitioner(name: str) -> Practitioner:
    return Practitioner.objects.create(
        name=name, sex="female", license_number=f"PORTAL-{next(_licences):06d}"
    )


def _start_for_followup_due(today: dt.date, days_before: int) -> dt.date:
    """A contract start whose one yearly follow-up (mid-term) falls `days_before` days before
    `today` (the term is 365 or 366 days, so mid-term is 182 or 183 days in)."""
    for offset in (182, 183):
        start = today - dt.timedelta(days=offset + days_before)
        if start + dt.timedelta(days=((term_end(start) - start).days + 1) // 2) == (
            today - dt.timedelta(days=days_before)
        ):
            return start
    raise AssertionError("no start date gives that due date")


def _signed_contract(clinic: Clinic, resident: Resident, start: dt.date) -> Contract:
    gp = clinic.users["doctor"]
    with time_machine.travel(
        dt.datetime.combine(start, dt.time(9), tzinfo=timezone.get_current_timezone()), tick=False
    ):
        contract = signing_services.contract_create(
            actor=gp, resident=resident, team=clinic.team, package_codes=[]
        )
        result = signing_services.contract_sign(
            actor=gp, contract=contract, signed_by="resident", method="in_person"
        )
    return result.contract


def build_people(now: dt.datetime | None = None) -> Clinic:
    """The two institutions, team t-01 and a login for every role; no referral or contract."""
    now = now or timezone.now()
    service_packages_load()
    tertiary = InstitutionFactory(code="wh-t-01", name="乌海市人民医院", tier=Tier.TERTIARY)
    primary = InstitutionFactory(code="wh-p-01", name="新华社区卫生服务中心", tier=Tier.PRIMARY)
    cardiology = DepartmentFactory(institution=tertiary, code="cardiology", name="心内科")
    primary_dept = DepartmentFactory(institution=primary, code="gp", name="全科")
    lead = _practitioner("王建华")
    with time_machine.travel(now - dt.timedelta(days=400), tick=False):
        team = signing_services.team_create(
            actor=None,
            code="t-01",
            name="新华社区第一家庭医生团队",
            institution=primary,
            lead=lead,
            capacity=500,
            service_area=["新华街道"],
        )
    clinic = Clinic(
        now=now,
        primary=primary,
        tertiary=tertiary,
        primary_dept=primary_dept,
        cardiology=cardiology,
        team=team,
    )
    public_health = _practitioner("李秀英")
    signing_services.team_member_add(
        actor=None, team=team, practitioner=public_health, role=TeamMemberRole.PUBLIC_HEALTH
    )
    staff = {
        "doctor": {"practitioner": lead, "first_name": "建华", "last_name": "王"},
        "public_health": {"practitioner": public_health},
        "nurse": {},
        "referral_coordinator": {},
        "clerk": {},
        "pharmacist": {},
        "institution_admin": {},
    }
    for role, extra in staff.items():
        clinic.users[role] = UserFactory(
            username=f"p-{role.replace('_', '-')}", role=role, institution=primary, **extra
        )
    clinic.users["tertiary_doctor"] = UserFactory(
        username="t-doctor", role=UserRole.DOCTOR, institution=tertiary
    )
    clinic.users["tertiary_coordinator"] = UserFactory(
        username="t-coordinator", role=UserRole.REFERRAL_COORDINATOR, institution=tertiary
    )
    clinic.users["bureau"] = UserFactory(username="bureau", role=UserRole.BUREAU, institution=None)
    clinic.users["system_admin"] = UserFactory(
        username="sysadmin", role=UserRole.SYSTEM_ADMIN, institution=None
    )
    clinic.resident = ResidentFactory(registered_by=primary, name="张桂兰")
    clinic.users["resident"] = UserFactory(
        username="resident", role=UserRole.RESIDENT, institution=None, resident=clinic.resident
    )
    return clinic


def build_clinic(now: dt.datetime | None = None) -> Clinic:
    """build_people, then the day's referrals and contracts (see the module's docstring)."""
    clinic = build_people(now)
    now = clinic.now
    today = clinic.today
    # Signed residents of team t-01 (registered at P: their contracts need that tie).
    primary, tertiary = clinic.primary, clinic.tertiary
    due_today = clinic.resident  # the resident login's own record
    due_yesterday = ResidentFactory(registered_by=primary, name="刘志强")
    expiring = ResidentFactory(registered_by=primary, name="陈淑珍")
    clinic.contracts.append(_signed_contract(clinic, due_today, _start_for_followup_due(today, 0)))
    clinic.contracts.append(
        _signed_contract(clinic, due_yesterday, _start_for_followup_due(today, 1))
    )
    expiring_contract = _signed_contract(clinic, expiring, today - dt.timedelta(days=350))
    clinic.contracts.append(expiring_contract)
    followup = expiring_contract.follow_ups.get()
    done = dt.datetime.combine(
        followup.due_date, dt.time(10), tzinfo=timezone.get_current_timezone()
    )
    with time_machine.travel(done, tick=False):
        signing_services.followup_record(
            actor=clinic.users["doctor"], followup=followup, outcome="血压平稳，继续随访"
        )

    # Downward referrals T → P (residents registered at T, not signed).
    def downward(name: str) -> Referral:
        referral, _ = referral_services.referral_create(
            actor=clinic.users["tertiary_doctor"],
            resident=ResidentFactory(registered_by=tertiary, name=name),
            to_department=clinic.primary_dept,
            urgency=ReferralUrgency.ROUTINE,
            reason_code="return_to_primary_care",
            clinical_summary="急性心梗术后，病情稳定，转回社区康复随访",
            from_department=clinic.cardiology,
        )
        return referral

    with time_machine.travel(now - dt.timedelta(days=3), tick=False):
        clinic.awaiting_decision.append(downward("赵文博"))
    with time_machine.travel(now - dt.timedelta(hours=2), tick=False):
        clinic.awaiting_decision.append(downward("孙丽华"))
        arriving = downward("周海燕")
    with time_machine.travel(now - dt.timedelta(hours=1), tick=False):
        coordinator = clinic.users["referral_coordinator"]
        arriving = referral_services.referral_accept(referral=arriving, actor=coordinator)
        clinic.scheduled_today = referral_services.referral_schedule(
            referral=arriving, actor=coordinator, date=today
        )
        # Upward P → T, awaiting T's decision.
        clinic.upward, _ = referral_services.referral_create(
            actor=clinic.users["doctor"],
            resident=due_yesterday,
            to_department=clinic.cardiology,
            urgency=ReferralUrgency.URGENT,
            reason_code="I20.0",
            clinical_summary="胸痛反复发作两周",
            from_department=clinic.primary_dept,
        )
    with time_machine.travel(now - dt.timedelta(minutes=30), tick=False):
        escalation.referrals_escalate_overdue()  # the oldest is past its 48 h decision deadline
    return clinic
