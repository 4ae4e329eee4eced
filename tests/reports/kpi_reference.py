"""The reference data set of the KPI tests: a small city built through the project's services at
fixed instants (time_machine), each row placed to exercise one rule of docs/reports.md. The tests
(tests/reports/test_kpi_reference_*.py) state every numerator and denominator as literal numbers
worked out by hand from the story below, never from the code under test.

Network (all times are Asia/Shanghai wall-clock):
- districts east and west;
- H  tertiary hospital (east), department cardio, 2 reserved slots a day;
- D  district hospital (west), department internal, 1 reserved slot a day when its first day is
     booked, then raised to 2 (days never booked count 2);
- P1 primary (east), P2 primary (west), no reserved slots;
- alliance G (medical group): H lead and P1 member since 2020; P2 joins on 2026-03-15;
- alliance C (medical community, west): D lead, P2 member since 2020;
- teams T1 and T3 at P1, T2 at P2.

Residents (19: 13 east, 6 west), born 1980-05-17 unless said:
- east: k1 k2 k3 (born 1955-02-02) k6 k7 k8, e1..e5, child (born 2022-06-01), t65 (born 1961-04-01:
  65 only on 2026-04-01);
- west: k4 k5 w1 w2 w3 w4 (born 1950-05-05).
Tags: k5 hypertension; k6 hypertension and diabetes; w2 tuberculosis.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import time_machine

from healthcodes import keys as healthcode_keys
from healthcodes import services as healthcodes
from healthnet import register
from healthnet.models import Encounter, ResidentRegistration, Tier, UserRole
from healthnet.services import encounter_create
from referrals import escalation
from referrals import services as referrals
from referrals.models import Referral
from signing import services as signing
from signing.models import FollowUp, ServiceItem, ServicePackage
from signing.services.periodic import contracts_expire, contracts_mark_renewal_due
from tests.factories import (
    AllianceFactory,
    DepartmentFactory,
    InstitutionFactory,
    MembershipFactory,
    ResidentFactory,
    UserFactory,
)
from tests.signing.helpers import make_practitioner

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A Shanghai wall-clock instant."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@contextmanager
def clock(moment: dt.datetime):
    with time_machine.travel(moment, tick=False):
        yield


@dataclass
class Reference:
    institutions: dict = field(default_factory=dict)
    departments: dict = field(default_factory=dict)
    teams: dict = field(default_factory=dict)
    residents: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    referrals: dict = field(default_factory=dict)
    contracts: dict = field(default_factory=dict)

    def team_code(self, name: str) -> str:
        return str(self.teams[name].pk)


def _network(ref: Reference) -> None:
    h = InstitutionFactory(code="h", name="市医院", tier=Tier.TERTIARY, district="east")
    d = InstitutionFactory(code="dh", name="西区医院", tier=Tier.DISTRICT, district="west")
    p1 = InstitutionFactory(code="p1", name="东社区", tier=Tier.PRIMARY, district="east")
    p2 = InstitutionFactory(code="p2", name="西卫生院", tier=Tier.PRIMARY, district="west")
    ref.institutions.update(h=h, d=d, p1=p1, p2=p2)
    ref.departments.update(
        cardio=DepartmentFactory(institution=h, code="cardio", referral_slots_per_day=2),
        internal=DepartmentFactory(institution=d, code="internal", referral_slots_per_day=1),
        p1_gp=DepartmentFactory(institution=p1, code="gp", referral_slots_per_day=0),
        p2_gp=DepartmentFactory(institution=p2, code="gp", referral_slots_per_day=0),
    )
    g = AllianceFactory(code="g", name="医疗集团", kind="medical_group")
    c = AllianceFactory(code="c", name="西区医共体", kind="medical_community", district="west")
    MembershipFactory(alliance=g, institution=h, role="lead", start_date=dt.date(2020, 1, 1))
    MembershipFactory(alliance=g, institution=p1, start_date=dt.date(2020, 1, 1))
    MembershipFactory(alliance=g, institution=p2, start_date=dt.date(2026, 3, 15))
    MembershipFactory(alliance=c, institution=d, role="lead", start_date=dt.date(2020, 1, 1))
    MembershipFactory(alliance=c, institution=p2, start_date=dt.date(2020, 1, 1))
    users = {
        "p1_doctor": (p1, UserRole.DOCTOR),
        "p2_doctor": (p2, UserRole.DOCTOR),
        "p1_clerk": (p1, UserRole.CLERK),
        "h_office": (h, UserRole.REFERRAL_COORDINATOR),
        "h_doctor": (h, UserRole.DOCTOR),
        "d_office": (d, UserRole.REFERRAL_COORDINATOR),
        "d_doctor": (d, UserRole.DOCTOR),
    }
    for name, (institution, role) in users.items():
        ref.users[name] = UserFactory(username=name, role=role, institution=institution)
    for name, institution in (("t1", p1), ("t2", p2), ("t3", p1)):
        lead = make_practitioner("全科医生")
        ref.teams[name] = signing.team_create(
            actor=None, code=name, name=f"团队{name}", institution=institution, lead=lead
        )
        ref.users[f"{name}_gp"] = UserFactory(
            username=f"gp-{name}", role=UserRole.DOCTOR, institution=institution, practitioner=lead
        )
    package = ServicePackage.objects.create(code="basic", name="基础包", kind="basic")
    # Twelve a year: one follow-up due in each twelfth of the term (signing.terms.followup_plan).
    ServiceItem.objects.create(package=package, code="visit", name="随访", times_per_year=12)


def _residents(ref: Reference) -> None:
    born = dt.date(1980, 5, 17)
    east = ["k1", "k2", "k3", "k6", "k7", "k8", "e1", "e2", "e3", "e4", "e5", "child", "t65"]
    west = ["k4", "k5", "w1", "w2", "w3", "w4"]
    births = {
        "k3": dt.date(1955, 2, 2),
        "child": dt.date(2022, 6, 1),
        "t65": dt.date(1961, 4, 1),
        "w4": dt.date(1950, 5, 5),
    }
    for names, district, home in ((east, "east", "p1"), (west, "west", "p2")):
        for name in names:
            ref.residents[name] = ResidentFactory(
                name=name,
                district=district,
                birth_date=births.get(name, born),
                registered_by=ref.institutions[home],
            )
    for resident in ref.residents.values():  # on the register since 2020
        if not ResidentRegistration.objects.filter(resident=resident).exists():
            register.registration_start(
                resident=resident, district=resident.district_id, on=dt.date(2020, 1, 1)
            )
    for name, population in (
        ("k5", "hypertension"),
        ("k6", "hypertension"),
        ("k6", "diabetes"),
        ("w2", "tuberculosis"),
    ):
        register.population_tag_add(
            actor=None, resident=ref.residents[name], population=population, on=dt.date(2025, 1, 1)
        )


def _register_changes(ref: Reference) -> None:
    """11, 12: w2's tuberculosis ends on 03-15 (last day 03-14); k6 moves east → west on 03-20;
    w4 dies on 03-31 (the day of death still counts)."""
    r = ref.residents
    with clock(at(2026, 3, 15)):
        register.population_tag_end(
            actor=None, resident=r["w2"], population="tuberculosis", on=dt.date(2026, 3, 15)
        )
    with clock(at(2026, 3, 20)):
        register.resident_move(
            actor=None, resident=r["k6"], on=dt.date(2026, 3, 20), district="west"
        )
    with clock(at(2026, 4, 1)):
        register.resident_death_record(actor=None, resident=r["w4"], died_on=dt.date(2026, 3, 31))


def _sign(ref: Reference, name: str, team: str, start: dt.date) -> None:
    with clock(at(start.year, start.month, start.day, 9)):
        contract = signing.contract_create(
            actor=None, resident=ref.residents[name], team=ref.teams[team], package_codes=[]
        )
        ref.contracts[name] = signing.contract_sign(
            actor=None, contract=contract, signed_by="resident", method="in_person"
        ).contract


def _followup(ref: Reference, name: str, due: dt.date, done: dt.datetime, team: str) -> None:
    contract = ref.contracts[name]
    followup = FollowUp.objects.get(contract=contract, due_date=due)
    with clock(done):
        signing.followup_record(
            actor=ref.users[f"{team}_gp"], followup=followup, outcome="血压平稳"
        )


def _contracts(ref: Reference) -> None:
    """11-14. Terms are one year, end inclusive (signing.rules.term_end); the follow-ups fall at
    start + 365·(2k+1)//24 days: for a 2026-01-01 start on 01-16, 02-15, 03-18, 04-17 …; for a
    2026-03-15 start first on 03-30; for 2025-04-10 the last on 2026-03-25."""
    _sign(ref, "k4", "t2", dt.date(2025, 3, 5))  # ends 2026-03-04, terminated 03-02
    _sign(ref, "k1", "t1", dt.date(2025, 3, 15))  # ends 2026-03-14, renewed 03-10
    _sign(ref, "k2", "t1", dt.date(2025, 3, 15))  # ends 2026-03-14, switched to t3 on 03-12
    _sign(ref, "k3", "t1", dt.date(2025, 3, 20))  # ends 2026-03-19, left in its renewal grace
    _sign(ref, "k7", "t1", dt.date(2025, 4, 10))  # ends 2026-04-09, renewed 03-26
    for name, team in (("k5", "t2"), ("k6", "t1"), ("k8", "t1")):
        _sign(ref, name, team, dt.date(2026, 1, 1))
    with clock(at(2026, 3, 1, 1)):
        contracts_mark_renewal_due(today=dt.date(2026, 3, 1))
    with clock(at(2026, 3, 2)):
        ref.contracts["k4"] = signing.contract_terminate(
            actor=None, contract=ref.contracts["k4"], reason="moved_away"
        )
    with clock(at(2026, 3, 10)):
        ref.contracts["k1_next"] = signing.contract_renew(
            actor=None, contract=ref.contracts["k1"], signed_by="resident", method="in_person"
        ).contract
    with clock(at(2026, 3, 12, 15)):
        ref.contracts["k2_next"] = signing.contract_switch(
            actor=None,
            contract=ref.contracts["k2"],
            team=ref.teams["t3"],
            signed_by="resident",
            method="in_person",
        ).contract
    # Follow-ups due in March 2026.
    _followup(ref, "k6", dt.date(2026, 3, 18), at(2026, 3, 18, 23, 30), "t1")  # the due day
    _followup(ref, "k5", dt.date(2026, 3, 18), at(2026, 3, 19, 0, 30), "t2")  # next local day
    _followup(ref, "k7", dt.date(2026, 3, 25), at(2026, 3, 25, 10), "t1")
    _followup(ref, "k2_next", dt.date(2026, 3, 30), at(2026, 3, 29, 10), "t3")  # early
    with clock(at(2026, 3, 20, 1)):
        contracts_mark_renewal_due(today=dt.date(2026, 3, 20))
    with clock(at(2026, 3, 26)):
        ref.contracts["k7_next"] = signing.contract_renew(
            actor=None, contract=ref.contracts["k7"], signed_by="resident", method="in_person"
        ).contract
    _followup(ref, "k1_next", dt.date(2026, 3, 30), at(2026, 4, 16), "t1")  # 17 days late
    with clock(at(2026, 4, 19, 1)):
        contracts_expire(today=dt.date(2026, 4, 19))  # k3: its grace over


def _visits(ref: Reference) -> None:
    """1, 15 (and 4: the admission)."""
    r = ref.residents
    inst = ref.institutions
    visits = [
        ("p1", "outpatient", at(2026, 2, 28, 23, 30), "e1"),  # February in Shanghai
        ("p1", "outpatient", at(2026, 3, 1, 7, 0), "e1"),  # 2026-02-28 23:00 UTC: March
        ("p1", "outpatient", at(2026, 3, 5), "e2"),
        ("p1", "outpatient", at(2026, 3, 31, 23, 30), "e3"),  # the last minutes of March
        ("h", "outpatient", at(2026, 3, 6), "e2"),
        ("h", "outpatient", at(2026, 3, 7), "e3"),
        ("h", "emergency", at(2026, 3, 8), "e4"),
        ("h", "inpatient", at(2026, 3, 9), "e4"),  # an admission: not a registration
        ("p2", "outpatient", at(2026, 3, 10), "w1"),  # before P2 joined G
        ("p2", "outpatient", at(2026, 3, 20), "w2"),  # after
        ("dh", "outpatient", at(2026, 3, 11), "w3"),
        ("h", "outpatient", at(2026, 4, 1, 0, 10), "e5"),  # 2026-03-31 16:10 UTC: April
        ("p1", "outpatient", at(2026, 4, 2), "e5"),
    ]
    for code, kind, started, who in visits:
        institution = next(i for i in inst.values() if i.code == code)
        with clock(started):
            encounter_create(
                actor=None,
                resident=r[who],
                institution_id=institution.pk,
                kind=kind,
                started_at=started,
            )
    # Inpatient stays: e4 at H admitted 03-09, discharged 03-31 23:30 (March); w3 at D 03-11 12:00
    # to 03-12 09:00.
    h_stay = Encounter.objects.get(resident=r["e4"], kind="inpatient")
    with clock(at(2026, 3, 31, 23, 30)):
        register.inpatient_admit(actor=None, encounter=h_stay, at=at(2026, 3, 9))
        register.inpatient_discharge(actor=None, encounter=h_stay, at=at(2026, 3, 31, 23, 30))
    with clock(at(2026, 3, 12, 9)):
        d_stay = encounter_create(
            actor=None,
            resident=r["w3"],
            institution_id=inst["d"].pk,
            kind="inpatient",
            started_at=at(2026, 3, 11, 12),
        )
        register.inpatient_admit(actor=None, encounter=d_stay, at=at(2026, 3, 11, 12))
        register.inpatient_discharge(actor=None, encounter=d_stay, at=at(2026, 3, 12, 9))
    # A registration by scanning the health code at P1 (opens an outpatient visit, source scan).
    scanned_at = at(2026, 3, 12, 9)
    with clock(scanned_at):
        healthcode_keys.invalidate_key_caches()
        healthcode_keys.healthcode_keys_rotate(now=scanned_at)
        resident_login = UserFactory(
            username="e1-phone", role=UserRole.RESIDENT, institution=None, resident=r["e1"]
        )
        card = healthcodes.healthcard_issue(actor=resident_login, resident=r["e1"])
        code = healthcodes.healthcode_issue_dynamic(actor=resident_login, card=card).text
        healthcodes.healthcode_scan(
            actor=ref.users["p1_clerk"], code=code, purpose="registration", now=scanned_at
        )
    healthcode_keys.invalidate_key_caches()


def _up(ref: Reference, name: str, who: str, *, from_: str = "p1", to: str = "cardio", **kw):
    referral, _ = referrals.referral_create(
        actor=ref.users[f"{from_}_doctor"],
        resident=ref.residents[who],
        to_department=ref.departments[to],
        urgency=kw.pop("urgency", "routine"),
        reason_code="I20.0",
        criteria_codes=["chest_pain_unstable"],
        clinical_summary="胸痛",
        from_department=ref.departments[f"{from_}_gp"],
        **kw,
    )
    ref.referrals[name] = referral
    return referral


def _step(moment: dt.datetime, action, **kwargs) -> Referral:
    with clock(moment):
        result = action(**kwargs)
    return result[1] if isinstance(result, tuple) else result


def _referrals(ref: Reference) -> None:
    """2, 3, 5, 6, 7, 8, 9, 10."""
    u = ref.users
    rf = ref.referrals
    # up1: P1 → H; decided in 23 h; booked 3 days on; completed with return to primary care
    # (the downward down1 to k8's team institution P1); acknowledged exactly 72 h after.
    with clock(at(2026, 3, 2)):
        _up(ref, "up1", "k8")
    _step(at(2026, 3, 3, 9), referrals.referral_accept, referral=rf["up1"], actor=u["h_office"])
    _step(
        at(2026, 3, 3, 9, 30),
        referrals.referral_schedule,
        referral=rf["up1"],
        actor=u["h_office"],
        date=dt.date(2026, 3, 6),
    )
    _step(at(2026, 3, 6, 9), referrals.referral_arrive, referral=rf["up1"], actor=u["h_office"])
    rf["up1"] = _step(
        at(2026, 3, 6, 15),
        referrals.referral_complete,
        referral=rf["up1"],
        actor=u["h_doctor"],
        summary="稳定",
        return_to_primary_care=True,
        resident_consent=True,
    )
    rf["down1"] = rf["up1"].follow_on
    # k8's team follows up on 03-08 (its 03-18 follow-up, done early): closes down1's loop.
    _followup(ref, "k8", dt.date(2026, 3, 18), at(2026, 3, 8), "t1")
    _step(
        at(2026, 3, 9, 15),
        referrals.referral_acknowledge,
        referral=rf["up1"],
        actor=u["p1_doctor"],
    )
    # up2: urgent, rejected (no capacity) after 6 h: late (4 h).
    with clock(at(2026, 3, 4)):
        _up(ref, "up2", "e1", urgency="urgent")
    _step(
        at(2026, 3, 4, 16),
        referrals.referral_reject,
        referral=rf["up2"],
        actor=u["h_office"],
        reason_code="no_capacity",
        comment="满",
    )
    # up3: P2 → H, redirected by H after 24 h to D (P2 → D is still up); D accepts after 72 h
    # (late), books 6 days on.
    with clock(at(2026, 3, 10)):
        _up(ref, "up3", "w1", from_="p2")
    rf["up3_next"] = _step(
        at(2026, 3, 11),
        referrals.referral_redirect,
        referral=rf["up3"],
        actor=u["h_office"],
        to_department=ref.departments["internal"],
    )
    _step(at(2026, 3, 14), referrals.referral_accept, referral=rf["up3_next"], actor=u["d_office"])
    _step(
        at(2026, 3, 14, 11),
        referrals.referral_schedule,
        referral=rf["up3_next"],
        actor=u["d_office"],
        date=dt.date(2026, 3, 20),
    )
    # D's slots per day go from 1 to 2 after its first booked day: days never opened count 2.
    internal = ref.departments["internal"]
    internal.referral_slots_per_day = 2
    internal.save(update_fields=["referral_slots_per_day"])
    # down2: D → P2 for w3 (not signed; seen at D on 03-11), never followed up.
    with clock(at(2026, 3, 12)):
        rf["down2"], _ = referrals.referral_create(
            actor=u["d_doctor"],
            resident=ref.residents["w3"],
            to_department=ref.departments["p2_gp"],
            urgency="routine",
            reason_code="Z09",
            clinical_summary="康复期",
            care_setting="inpatient",  # discharged from D on 03-12
        )
    # up8: submitted then cancelled by the referrer: submitted, never decided.
    with clock(at(2026, 3, 16)):
        _up(ref, "up8", "e5")
    _step(
        at(2026, 3, 16, 11),
        referrals.referral_cancel,
        referral=rf["up8"],
        actor=u["p1_doctor"],
        reason="患者拒绝",
    )
    # A draft never submitted.
    with clock(at(2026, 3, 16, 12)):
        _up(ref, "draft", "e5", submit=False)
    # up6: accepted after 2 h, booked 03-23, no-show (the slot is released), rebooked 03-27.
    with clock(at(2026, 3, 20)):
        _up(ref, "up6", "e3")
    _step(at(2026, 3, 20, 12), referrals.referral_accept, referral=rf["up6"], actor=u["h_office"])
    _step(
        at(2026, 3, 20, 13),
        referrals.referral_schedule,
        referral=rf["up6"],
        actor=u["h_office"],
        date=dt.date(2026, 3, 23),
    )
    _step(at(2026, 3, 23, 18), referrals.referral_no_show, referral=rf["up6"], actor=u["h_office"])
    _step(
        at(2026, 3, 23, 19),
        referrals.referral_reschedule,
        referral=rf["up6"],
        actor=u["h_office"],
        date=dt.date(2026, 3, 27),
    )
    # up7: accepted after 4 h, booked 5 days on, completed 03-26, never acknowledged: the
    # system closes it after the 3-day deadline (not a loop closed by the referrer).
    with clock(at(2026, 3, 21)):
        _up(ref, "up7", "e4")
    _step(at(2026, 3, 21, 14), referrals.referral_accept, referral=rf["up7"], actor=u["h_office"])
    _step(
        at(2026, 3, 21, 15),
        referrals.referral_schedule,
        referral=rf["up7"],
        actor=u["h_office"],
        date=dt.date(2026, 3, 26),
    )
    _step(at(2026, 3, 26, 8), referrals.referral_arrive, referral=rf["up7"], actor=u["h_office"])
    _step(
        at(2026, 3, 26),
        referrals.referral_complete,
        referral=rf["up7"],
        actor=u["h_doctor"],
        summary="好转",
    )
    with clock(at(2026, 3, 29, 11)):
        escalation.referrals_auto_close(now=at(2026, 3, 29, 11))
    # down4: H → P1 for k8 (signed with T1: consent) on 03-20; the team follows up on 03-24, four
    # days on (k8's April follow-up, done early): answered late.
    with clock(at(2026, 3, 20)):
        rf["down4"], _ = referrals.referral_create(
            actor=u["h_doctor"],
            resident=ref.residents["k8"],
            to_department=ref.departments["p1_gp"],
            urgency="routine",
            reason_code="Z09",
            clinical_summary="复查",
            resident_consent=True,
        )
    _followup(ref, "k8", dt.date(2026, 4, 17), at(2026, 3, 24), "t1")
    # down3: H → P1 for e4, discharged 03-31 23:30, referred down 04-01 09:00 (inpatient).
    with clock(at(2026, 4, 1, 9)):
        rf["down3"], _ = referrals.referral_create(
            actor=u["h_doctor"],
            resident=ref.residents["e4"],
            to_department=ref.departments["p1_gp"],
            urgency="routine",
            reason_code="Z09",
            clinical_summary="出院后康复",
            care_setting="inpatient",
        )
    # up4: submitted 23:00 on 03-31 (March), accepted 04-01 08:00 (April, 9 h), booked 04-03.
    with clock(at(2026, 3, 31, 23)):
        _up(ref, "up4", "e2")
    _step(at(2026, 4, 1, 8), referrals.referral_accept, referral=rf["up4"], actor=u["h_office"])
    _step(
        at(2026, 4, 1, 9),
        referrals.referral_schedule,
        referral=rf["up4"],
        actor=u["h_office"],
        date=dt.date(2026, 4, 3),
    )
    # up5: P2 → D submitted 00:30 on 04-01 (still 03-31 in UTC: April), rejected after 24 h.
    with clock(at(2026, 4, 1, 0, 30)):
        _up(ref, "up5", "w3", from_="p2", to="internal")
    _step(
        at(2026, 4, 2, 0, 30),
        referrals.referral_reject,
        referral=rf["up5"],
        actor=u["d_office"],
        reason_code="incomplete_information",
        comment="缺检查",
    )


def build() -> Reference:
    ref = Reference()
    with clock(at(2025, 1, 1)):
        _network(ref)
        _residents(ref)
    _contracts(ref)
    _visits(ref)
    _referrals(ref)
    _register_changes(ref)
    for referral in ref.referrals.values():
        referral.refresh_from_db()
    return ref


def reference_data(django_db_blocker):
    """For a module-scoped fixture: the reference data built once, rolled back at the end (each
    test runs in its own savepoint inside it)."""
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        yield build()
        transaction.set_rollback(True)


def pair(figures, level: str, code: str, breakdown: str = ""):
    """(numerator, denominator) of a unit's figure, as ints (a median: (median, cases))."""
    figure = figures[(level, code, breakdown)]
    numerator = figure.numerator
    if numerator == int(numerator):
        numerator = int(numerator)
    return numerator, None if figure.denominator is None else int(figure.denominator)
