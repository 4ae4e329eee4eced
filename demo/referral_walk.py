"""A demo referral's timeline: a walk through the referral transition table
(referrals/transitions.py) from its creation, cut at "now", with the deadlines the services set
(referrals.transitions.set_due) and the overdue flags and escalations the periodic job
(referrals/escalation.py) would have written. Used by demo/referrals.py; nothing is written
here."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field

from django.utils import timezone

from demo.referral_rows import AroundReferral
from healthnet.models import (
    Department,
    Encounter,
    Institution,
    Resident,
    Tier,
    is_higher_tier,
)
from referrals.models import (
    OPEN_STATUSES,
    CareSetting,
    Referral,
    ReferralDirection,
    ReferralStatus,
    ReferralUrgency,
    RejectionReason,
)
from referrals.transitions import ESCALATING_STATUSES, Action, set_due, transition_for
from signing.models import FollowUp

S = ReferralStatus

UP_REASONS = [
    ("I20.0", ["chest_pain_unstable"]),
    ("I63.9", ["stroke_suspected"]),
    ("E11.65", ["glycaemia_uncontrolled"]),
    ("I10", ["hypertension_refractory"]),
    ("J44.1", ["copd_exacerbation"]),
    ("K92.2", ["gi_bleeding"]),
    ("N18.4", ["ckd_progression"]),
    ("C34.9", ["mass_on_imaging"]),
    ("M17.1", ["joint_replacement_assessment"]),
    ("O36.9", ["high_risk_pregnancy"]),
]
DOWN_REASONS = [
    ("Z09", ["post_operative_follow_up"]),
    ("Z50.1", ["rehabilitation"]),
    ("I10", ["chronic_disease_management"]),
    ("E11.9", ["chronic_disease_management"]),
    ("Z51.1", ["maintenance_therapy"]),
]


# Upward referrals more often admitted: chest pain, stroke, GI bleeding, COPD, joint surgery.
INPATIENT_REASONS = frozenset({"I20.0", "I63.9", "K92.2", "J44.1", "M17.1"})
INPATIENT_SHARE_UP = {True: 0.7, False: 0.12}  # keyed by "a reason usually admitted"
INPATIENT_SHARE_DOWN = 0.55  # own downward referrals: patients discharged down


@dataclass
class Walk:
    """A referral's timeline being built: rows of (action, from, to, at, reason, details)."""

    referral: Referral
    steps: list[tuple[str, str, str, dt.datetime, str, dict]] = field(default_factory=list)
    child: Referral | None = None  # a redirect successor or a follow-on, created after it
    child_walk: Walk | None = None
    child_kind: str = ""
    stall_at: str = ""  # the action nobody took: the referral waits there, overdue
    # Rows to write with it (demo/referrals.py): the visit its arrival opened (linked), the stay
    # an inpatient downward referral was discharged from (not linked), the team's follow-up
    # that closed a downward loop (linked).
    encounter: Encounter | None = None
    source_stay: Encounter | None = None
    closing_followup: FollowUp | None = None
    slot: tuple[int, dt.date] | None = None  # the (department, day) slot it holds, if booked


@dataclass
class ReferralNetwork:
    """What the walks need of the network, read once (demo/referrals.py)."""

    institutions: dict[int, Institution]  # active, by pk
    departments_of: dict[int, list[Department]]  # accepting referrals, by institution pk
    primaries: list[Institution]
    hospitals: list[Institution]
    partners: dict[int, set[int]]  # institution pk → its current alliance partners
    team_institution_of: dict[int, int]  # resident pk → their family-doctor team's institution
    slot_capacity: dict[int, int]  # department pk → referral slots a day
    # resident pk → their contracts' (pk, start, end), current and renewed, and the basic
    # package's first item: the follow-up that closes a downward loop
    contract_of: dict[int, list[tuple[int, dt.date, dt.date]]] = field(default_factory=dict)
    followup_item_id: int | None = None


class ReferralWalker(AroundReferral):
    """Builds the walks of one demo year; keeps the booked slots and the open referrals (one
    per resident, target department and direction) across them."""

    def __init__(
        self,
        network: ReferralNetwork,
        rng: random.Random,
        now: dt.datetime,
        around_rng: random.Random | None = None,
    ) -> None:
        self.network = network
        self.institutions = network.institutions
        self.departments_of = network.departments_of
        self.primaries = network.primaries
        self.hospitals = network.hospitals
        self.partners = network.partners
        self.team_institution_of = network.team_institution_of
        self.slot_capacity = network.slot_capacity
        self.rng = rng
        # Care settings and the rows around a referral draw from their own stream: the walks
        # themselves stay what they were.
        self.around = around_rng or random.Random(0)  # noqa: S311 - reproducible demo data
        self.now = now
        self.tz = timezone.get_current_timezone()
        self.booked: Counter[tuple[int, dt.date]] = Counter()
        self.open_keys: set[tuple[int, int, str]] = set()

    # --- one referral --------------------------------------------------------------------------

    def referral(self, resident: Resident, direction: str, at: dt.datetime) -> Walk | None:
        """The walk of a new referral opened `at`, or None when it has nowhere to go."""
        registered_by = resident.registered_by_id
        home = self.institutions.get(registered_by) if registered_by is not None else None
        if home is None or home.tier != Tier.PRIMARY:
            local = [p for p in self.primaries if p.district == resident.district_id]
            home = self.rng.choice(local or self.primaries)
        if direction == ReferralDirection.UP:
            source = home
            target = self._target_above(source)
            reasons = UP_REASONS
        else:
            hospitals = [h for h in self.hospitals if is_higher_tier(h.tier, home.tier)]
            source = self.rng.choice(hospitals)
            # a signed resident goes down to their family-doctor team's institution
            team = self.team_institution_of.get(resident.pk)
            target = self.institutions.get(team, home) if team else home
            reasons = DOWN_REASONS
        if target is None:
            return None
        department = self._department(target, direction)
        if department is None:
            return None
        urgency = (
            self.rng.choices(
                [ReferralUrgency.ROUTINE, ReferralUrgency.URGENT, ReferralUrgency.EMERGENCY],
                weights=[80, 17, 3],
            )[0]
            if direction == ReferralDirection.UP
            else ReferralUrgency.ROUTINE
        )
        reason, criteria = self.rng.choice(reasons)
        if direction == ReferralDirection.UP:
            admitted = urgency == ReferralUrgency.EMERGENCY or reason in INPATIENT_REASONS
            inpatient = self.around.random() < INPATIENT_SHARE_UP[admitted]
        else:
            inpatient = self.around.random() < INPATIENT_SHARE_DOWN
        referral = self._new(
            resident=resident,
            direction=direction,
            source=source,
            source_department=self._department(source, None),
            target=target,
            department=department,
            urgency=urgency,
            reason=reason,
            criteria=criteria,
            at=at,
            inpatient=inpatient,
        )
        walk = Walk(referral)
        if inpatient and direction == ReferralDirection.DOWN:
            walk.source_stay = self._stay(referral, source, at)
        if at > self.now - dt.timedelta(days=30) and self.rng.random() < 0.2:
            walk.stall_at = self.rng.choice(
                [Action.ACCEPT, Action.ACCEPT, Action.SCHEDULE, Action.ARRIVE, Action.COMPLETE]
            )
        self._play(walk, at)
        return walk

    def _target_above(self, source: Institution) -> Institution | None:
        above = [
            h
            for h in self.hospitals
            if is_higher_tier(h.tier, source.tier) and self.departments_of.get(h.pk)
        ]
        if not above:
            return None
        partners = [h for h in above if h.pk in self.partners.get(source.pk, ())]
        if partners and self.rng.random() < 0.7:
            return self.rng.choice(partners)
        return self.rng.choice(above)

    def _department(self, institution: Institution, direction: str | None) -> Department | None:
        departments = self.departments_of.get(institution.pk, [])
        if direction == ReferralDirection.UP:
            with_slots = [d for d in departments if d.referral_slots_per_day > 0]
            departments = with_slots or departments
        return self.rng.choice(departments) if departments else None

    def _new(self, *, resident, direction, source, source_department, target, department,
             urgency, reason, criteria, at, inpatient=False) -> Referral:  # fmt: skip
        return Referral(
            resident=resident,
            direction=direction,
            care_setting=CareSetting.INPATIENT if inpatient else CareSetting.OUTPATIENT,
            from_institution=source,
            from_department=source_department,
            to_institution=target,
            to_department=department,
            urgency=urgency,
            reason_code=reason,
            criteria_codes=criteria,
            clinical_summary="演示数据 (demo data)",
            status=S.DRAFT,
            created_at=at,
            updated_at=at,
            resident_consent=direction == ReferralDirection.DOWN,
            consent_recorded_at=at if direction == ReferralDirection.DOWN else None,
        )

    # --- the walk through the transition table -------------------------------------------------

    def _step(self, walk: Walk, action: str, at: dt.datetime, reason: str = "", **details) -> bool:
        """Take `action` at `at` if that is not after now. Returns False when the walk stops."""
        referral = walk.referral
        if at > self.now or action == walk.stall_at:
            return False
        from_status = referral.status
        if action == "create":
            to_status: str = S.DRAFT
        else:
            transition = transition_for(from_status, action)
            assert transition is not None, (from_status, action)  # noqa: S101 - the table rules
            to_status = transition.target
        referral.status = to_status
        referral.updated_at = at
        walk.steps.append((action, from_status, to_status, at, reason, details))
        if to_status == S.SUBMITTED:
            referral.submitted_at = referral.submitted_at or at
        set_due(referral, at)
        return True

    def _hours(self, low: float, high: float) -> dt.timedelta:
        return dt.timedelta(hours=self.rng.uniform(low, high))

    def _play(self, walk: Walk, at: dt.datetime) -> None:
        r = walk.referral
        rng = self.rng
        self._step(walk, "create", at)
        self._step(walk, Action.SUBMIT, at)
        decision = {
            ReferralUrgency.EMERGENCY: self._hours(0.05, 0.8),  # some past the 30 minutes
            ReferralUrgency.URGENT: self._hours(0.3, 6),
            ReferralUrgency.ROUTINE: self._hours(1, 64),
        }[ReferralUrgency(r.urgency)]
        if r.direction == ReferralDirection.DOWN:
            decision = self._hours(2, 30)
        at = at + decision
        roll = rng.random()
        if roll < 0.04:
            self._step(walk, Action.CANCEL, at, "患者改变主意 (the patient changed their mind)")
            r.cancel_reason = "患者改变主意"
            return self._finish(walk)
        if roll < 0.11:
            code = rng.choice(
                [
                    RejectionReason.NO_CAPACITY,
                    RejectionReason.NOT_INDICATED,
                    RejectionReason.WRONG_DEPARTMENT,
                    RejectionReason.INCOMPLETE_INFORMATION,
                ]
            )
            if self._step(walk, Action.REJECT, at, "演示: 见原因代码", reason_code=code):
                r.decided_at = at
                r.rejection_reason = code
                r.rejection_comment = "演示: 见原因代码 (demo: see the reason code)"
            return self._finish(walk)
        if roll < 0.15 and r.direction == ReferralDirection.UP:
            return self._redirect(walk, at)
        if not self._step(walk, Action.ACCEPT, at):
            return self._finish(walk)
        r.decided_at = at
        if r.direction == ReferralDirection.DOWN:
            # the family-doctor team picks the resident up: its first follow-up closes the loop,
            # about half of them within the 3 days after submission, some weeks later
            at = at + dt.timedelta(days=0.3 + 12 * rng.random() ** 3)
            if self._step(walk, Action.CLOSE_LOOP, at, "家庭医生团队已随访"):
                r.closed_at = at
                walk.closing_followup = self._closing_followup(r, at)
            return self._finish(walk)
        scheduled_at = at + self._hours(1, 60)
        day = self._book(walk, scheduled_at, Action.SCHEDULE)
        if day is None:
            return self._finish(walk)
        if rng.random() < 0.06:
            missed = max(
                self._appointment_time(day) + dt.timedelta(hours=9),
                scheduled_at + dt.timedelta(hours=2),
            )
            if not self._step(walk, Action.NO_SHOW, missed):
                return self._finish(walk)
            r.no_show_at = missed
            self._release(walk)
            if rng.random() < 0.6:
                scheduled_at = missed + self._hours(2, 20)
                day = self._book(walk, scheduled_at, Action.RESCHEDULE)
                if day is None:
                    return self._finish(walk)
                r.reschedule_count = 1
            else:
                if self._step(walk, Action.CANCEL, missed + self._hours(2, 20), "患者未再联系"):
                    r.cancel_reason = "患者未再联系"
                return self._finish(walk)
        elif rng.random() < 0.02:
            when = scheduled_at + self._hours(1, 24)
            if self._step(walk, Action.CANCEL, when, "患者已在他院就诊"):
                r.cancel_reason = "患者已在他院就诊"
                self._release(walk)
            return self._finish(walk)
        arrived = max(
            self._appointment_time(day) + self._hours(0, 3),
            scheduled_at + self._hours(0.2, 1),
        )
        if not self._step(walk, Action.ARRIVE, arrived):
            return self._finish(walk)
        r.arrived_at = arrived
        inpatient = r.care_setting == CareSetting.INPATIENT
        # some past the 3-day feedback deadline; an inpatient's feedback comes at discharge
        completed = arrived + (
            dt.timedelta(hours=24 + self.rng.random() * 196) if inpatient else self._hours(2, 90)
        )
        walk.encounter = self._arrival(r, arrived, completed if inpatient else None)
        if not self._step(walk, Action.COMPLETE, completed, "诊疗小结 (demo summary)"):
            return self._finish(walk)
        r.completed_at = completed
        r.feedback_summary = "演示诊疗小结 (demo summary)"
        r.diagnosis = r.reason_code
        r.return_to_primary_care = rng.random() < 0.35
        if r.return_to_primary_care:
            self._follow_on(walk, completed)
        acknowledged = completed + self._hours(1, 110)
        deadline = r.due_at  # set_due (at the completion): the acknowledge deadline
        if deadline is None or acknowledged <= deadline:
            if self._step(walk, Action.ACKNOWLEDGE, acknowledged):
                r.closed_at = acknowledged
        else:
            auto = deadline + dt.timedelta(minutes=rng.randrange(5, 60))  # the next job run
            if self._step(walk, Action.AUTO_CLOSE, auto, "转出方3天内未确认，系统自动闭环"):
                r.closed_at = auto
        return self._finish(walk)

    def _appointment_time(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(8, 0), tzinfo=self.tz)

    def _book(self, walk: Walk, at: dt.datetime, action: str) -> dt.date | None:
        """Book the appointment at `at`: its day, or None when the walk stops here."""
        r = walk.referral
        if at > self.now:
            return None
        day = timezone.localtime(at, self.tz).date() + dt.timedelta(days=self.rng.randint(1, 6))
        capacity = self.slot_capacity.get(r.to_department_id, 0)
        if r.urgency == ReferralUrgency.EMERGENCY:
            day = timezone.localtime(at, self.tz).date()
        elif capacity == 0:
            return None  # stays accepted: the department reserves no slots
        else:
            while self.booked[(r.to_department_id, day)] >= capacity:
                day += dt.timedelta(days=1)
            self.booked[(r.to_department_id, day)] += 1
            walk.slot = (r.to_department_id, day)
        r.appointment_date = day
        r.scheduled_at = at
        return day if self._step(walk, action, at, date=day.isoformat()) else None

    def _release(self, walk: Walk) -> None:
        if walk.slot is not None:
            self.booked[walk.slot] -= 1
            walk.slot = None

    def _redirect(self, walk: Walk, at: dt.datetime) -> None:
        r = walk.referral
        source = self.institutions[r.from_institution_id]
        others = [
            h
            for h in self.hospitals
            if h.pk != r.to_institution_id
            and is_higher_tier(h.tier, source.tier)
            and self.departments_of.get(h.pk)
        ]
        if not others or not self._step(walk, Action.REDIRECT, at, "转至更合适的医院"):
            return self._finish(walk)
        r.decided_at = at
        target = self.rng.choice(others)
        successor = self._new(
            resident=r.resident,
            direction=r.direction,
            source=source,
            source_department=r.from_department,
            target=target,
            department=self._department(target, r.direction),
            urgency=r.urgency,
            reason=r.reason_code,
            criteria=r.criteria_codes,
            at=at,
        )
        child = Walk(successor)
        walk.child, walk.child_walk, walk.child_kind = successor, child, "redirect"
        self._finish(walk)
        self._play(child, at)
        return None

    def _follow_on(self, walk: Walk, at: dt.datetime) -> None:
        r = walk.referral
        team = self.team_institution_of.get(r.resident_id)
        home = self.institutions.get(team) if team else None
        home = home or self.institutions[r.from_institution_id]
        department = self._department(home, ReferralDirection.DOWN)
        if department is None:
            return
        follow_on = self._new(
            resident=r.resident,
            direction=ReferralDirection.DOWN,
            source=self.institutions[r.to_institution_id],
            source_department=r.to_department,
            target=home,
            department=department,
            urgency=ReferralUrgency.ROUTINE,
            reason="return_to_primary_care",
            criteria=[],
            at=at,
            inpatient=r.care_setting == CareSetting.INPATIENT,
        )
        child = Walk(follow_on)
        walk.child, walk.child_walk, walk.child_kind = follow_on, child, "follow_on"
        self._play(child, at)

    def _finish(self, walk: Walk) -> None:
        """Where the walk stopped before now: an open referral past its deadline is overdue
        and was escalated, as the periodic job would have done."""
        r = walk.referral
        if r.status in OPEN_STATUSES:
            key = (r.resident_id, r.to_department_id, r.direction)
            if key in self.open_keys:  # one open referral per target: drop this demo row
                walk.steps.clear()
                self._release(walk)
                return
            self.open_keys.add(key)
        if r.status in ESCALATING_STATUSES and r.due_at is not None and r.due_at < self.now:
            escalated = r.due_at + dt.timedelta(minutes=5)
            r.overdue = True
            r.escalated_at = escalated
            walk.steps.append(("escalate", r.status, r.status, escalated, "超时未处理，已上报", {}))

    # --- writing -------------------------------------------------------------------------------
