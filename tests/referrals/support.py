"""A small referral network for the tests, and referrals brought to a state through the services.

Network (docs/design.md §2 in miniature):
- tertiary 市人民医院 (cardiology, 5 reserved slots a day; its head has a login)
- specialist 蒙医中医医院 (redirect target)
- district 区医院 (a member of the medical community)
- primary A 社区中心 (the resident's registered institution) and primary B
- a medical group led by the tertiary hospital with primary A as member
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from healthnet.models import Department, Institution, Practitioner, Resident, Tier, User, UserRole
from referrals import services
from referrals.models import Referral, ReferralStatus, ReferralUrgency
from tests.factories import (
    AllianceFactory,
    DepartmentFactory,
    InstitutionFactory,
    MembershipFactory,
    ResidentFactory,
    UserFactory,
)

S = ReferralStatus


@dataclass
class Net:
    tertiary: Institution
    specialist: Institution
    district: Institution
    primary: Institution
    primary_b: Institution
    cardiology: Department
    specialist_dept: Department
    district_dept: Department
    primary_dept: Department
    primary_b_dept: Department
    resident: Resident
    users: dict[tuple[str, str], User] = field(default_factory=dict)

    def user(self, institution: Institution, role: str) -> User:
        key = (institution.code, role)
        if key not in self.users:
            self.users[key] = UserFactory(
                username=f"{institution.code}-{role}", role=role, institution=institution
            )
        return self.users[key]

    # the usual actors
    @property
    def referrer(self) -> User:
        return self.user(self.primary, UserRole.DOCTOR)

    @property
    def office(self) -> User:
        return self.user(self.tertiary, UserRole.REFERRAL_COORDINATOR)

    @property
    def receiving_doctor(self) -> User:
        return self.user(self.tertiary, UserRole.DOCTOR)


def build_network() -> Net:
    tertiary = InstitutionFactory(code="wh-t-01", name="乌海市人民医院", tier=Tier.TERTIARY)
    specialist = InstitutionFactory(code="wh-s-01", name="乌海市蒙医中医医院", tier=Tier.SPECIALIST)
    district = InstitutionFactory(code="wh-d-01", name="海勃湾区医院", tier=Tier.DISTRICT)
    primary = InstitutionFactory(code="wh-p-01", name="新华社区卫生服务中心", tier=Tier.PRIMARY)
    primary_b = InstitutionFactory(code="wh-p-02", name="千里山镇卫生院", tier=Tier.PRIMARY)
    head = Practitioner.objects.create(name="王主任", sex="male")
    cardiology = DepartmentFactory(
        institution=tertiary, code="cardiology", name="心内科", referral_slots_per_day=5, head=head
    )
    UserFactory(
        username="cardiology-head", role=UserRole.DOCTOR, institution=tertiary, practitioner=head
    )
    group = AllianceFactory(code="wh-group-1", name="市人民医院医疗集团", kind="medical_group")
    MembershipFactory(alliance=group, institution=tertiary, role="lead")
    MembershipFactory(alliance=group, institution=primary, role="member")
    net = Net(
        tertiary=tertiary,
        specialist=specialist,
        district=district,
        primary=primary,
        primary_b=primary_b,
        cardiology=cardiology,
        specialist_dept=DepartmentFactory(institution=specialist, code="mongolian", name="蒙医科"),
        district_dept=DepartmentFactory(institution=district, code="internal", name="内科"),
        primary_dept=DepartmentFactory(institution=primary, code="gp", name="全科"),
        primary_b_dept=DepartmentFactory(institution=primary_b, code="gp", name="全科"),
        resident=ResidentFactory(registered_by=primary),
    )
    net.user(tertiary, UserRole.INSTITUTION_ADMIN)  # the alliance lead's admin (escalations)
    for user in (net.referrer, net.office, net.receiving_doctor):  # known before any referral
        assert user.pk
    return net


def tomorrow() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=1)


def create_up(net: Net, *, resident: Resident | None = None, submit: bool = True, **kw) -> Referral:
    referral, created = services.referral_create(
        actor=kw.pop("actor", net.referrer),
        resident=resident or net.resident,
        to_department=kw.pop("to_department", net.cardiology),
        urgency=kw.pop("urgency", ReferralUrgency.ROUTINE),
        reason_code=kw.pop("reason_code", "I20.0"),
        criteria_codes=kw.pop("criteria_codes", ["chest_pain_unstable"]),
        clinical_summary=kw.pop("clinical_summary", "胸痛反复发作两周"),
        from_department=kw.pop("from_department", net.primary_dept),
        submit=submit,
        **kw,
    )
    assert created
    return referral


def referral_in(net: Net, state: str, *, resident: Resident | None = None) -> Referral:
    """An upward referral primary → tertiary cardiology brought to `state` by the services."""
    if state == S.DRAFT:
        return create_up(net, resident=resident, submit=False)
    referral = create_up(net, resident=resident)
    if state == S.SUBMITTED:
        return referral
    if state == S.CANCELLED:
        return services.referral_cancel(referral=referral, actor=net.referrer, reason="患者拒绝")
    if state == S.REJECTED:
        return services.referral_reject(
            referral=referral, actor=net.office, reason_code="no_capacity", comment="床位已满"
        )
    if state == S.REDIRECTED:
        old, _ = services.referral_redirect(
            referral=referral, actor=net.office, to_department=net.specialist_dept
        )
        return old
    referral = services.referral_accept(referral=referral, actor=net.office)
    if state == S.ACCEPTED:
        return referral
    referral = services.referral_schedule(referral=referral, actor=net.office, date=tomorrow())
    if state == S.SCHEDULED:
        return referral
    if state == S.NO_SHOW:
        return services.referral_no_show(referral=referral, actor=net.office)
    referral = services.referral_arrive(referral=referral, actor=net.office)
    if state == S.ARRIVED:
        return referral
    referral = services.referral_complete(
        referral=referral, actor=net.receiving_doctor, summary="冠心病，支架术后稳定"
    )
    if state == S.COMPLETED:
        return referral
    if state == S.CLOSED:
        return services.referral_acknowledge(referral=referral, actor=net.referrer)
    raise AssertionError(f"unknown state {state}")
