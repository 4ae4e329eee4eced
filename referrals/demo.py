"""Demo referrals: a realistic year of two-way referrals on whatever network and residents exist.

Called by `generate_demo` after residents, staff and visits (healthnet/demo): `generate(*, seed,
today, log)`. Deterministic for a seed and a day; a second call on a database that has
referrals adds nothing. Rows go in with bulk_create in batches, never through the services (a
city year is tens of thousands of referrals), but every referral follows the transition table:
its timeline is a walk through referrals/transitions.py, cut at "now", with the deadlines,
overdue flags and escalations the services and the periodic job would have written.

Shape (demo assumptions, not statistics): about 5 upward referrals per 100 residents a year;
downward referrals grow over the year from a few to about a third of the upward ones (the
tiered-care policy taking hold), and about a third of completed upward referrals return to
primary care; some are rejected (coded reasons), redirected, cancelled, missed (no-show, one
rebooking), decided late (overdue, escalated) or left for auto-close.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from healthnet.models import (
    AllianceMembership,
    Department,
    Institution,
    Resident,
    Tier,
    is_higher_tier,
)
from referrals.models import (
    OPEN_STATUSES,
    DepartmentDaySlots,
    Referral,
    ReferralDirection,
    ReferralEvent,
    ReferralStatus,
    ReferralUrgency,
    RejectionReason,
)
from referrals.transitions import Action, transition_for

S = ReferralStatus
UP_PER_RESIDENT_YEAR = 0.05
BATCH = 2000

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


@dataclass
class Walk:
    """A referral's timeline being built: rows of (action, from, to, at, reason, details)."""

    referral: Referral
    steps: list[tuple[str, str, str, dt.datetime, str, dict]] = field(default_factory=list)
    child: Referral | None = None  # a redirect successor or a follow-on, created after it
    child_walk: Walk | None = None
    child_kind: str = ""
    stall_at: str = ""  # the action nobody took: the referral waits there, overdue


def generate(
    *,
    seed: int,
    today: dt.date,
    log: Callable[[str], None],
    up_per_resident_year: float = UP_PER_RESIDENT_YEAR,
) -> dict[str, int]:
    """Add a year of referrals ending `today`; returns the rows created (zeros when referrals
    exist already). `up_per_resident_year` scales the volume (the benchmark raises it)."""
    counts = {"referrals": 0, "referral_events": 0, "referral_day_slots": 0}
    if Referral.objects.exists():
        log("referrals: demo referrals exist already, nothing added")
        return counts
    generator = _Generator(seed=seed, today=today, up_rate=up_per_resident_year)
    if not generator.ready():
        log("referrals: no residents or no two tiers of institutions with departments, skipped")
        return counts
    return generator.run(log)


class _Generator:
    def __init__(self, *, seed: int, today: dt.date, up_rate: float) -> None:
        self.up_rate = up_rate
        self.rng = random.Random(f"referrals-{seed}")  # noqa: S311 - deterministic demo data
        self.today = today
        self.tz = timezone.get_current_timezone()
        self.now = dt.datetime.combine(today, dt.time(17, 0), tzinfo=self.tz)
        self.start = self.now - dt.timedelta(days=365)
        institutions = list(Institution.objects.filter(active=True).order_by("code"))
        self.institutions = {i.pk: i for i in institutions}
        departments = list(
            Department.objects.filter(accepts_referrals=True, institution__active=True).order_by(
                "institution__code", "code"
            )
        )
        self.departments_of: dict[int, list[Department]] = {}
        for department in departments:
            self.departments_of.setdefault(department.institution_id, []).append(department)
        self.primaries = [i for i in institutions if i.tier == Tier.PRIMARY]
        self.hospitals = [i for i in institutions if i.tier != Tier.PRIMARY]
        on = today
        current = Q(start_date__lte=on) & (Q(end_date__isnull=True) | Q(end_date__gt=on))
        alliances: dict[int, set[int]] = {}
        for alliance_id, institution_id in AllianceMembership.objects.filter(current).values_list(
            "alliance_id", "institution_id"
        ):
            alliances.setdefault(alliance_id, set()).add(institution_id)
        self.partners: dict[int, set[int]] = {}
        for members in alliances.values():
            for member in members:
                self.partners.setdefault(member, set()).update(members - {member})
        self.team_institution_of = _team_institutions()
        self.booked: Counter[tuple[int, dt.date]] = Counter()
        self.open_keys: set[tuple[int, int, str]] = set()
        self.counts = Counter()

    def ready(self) -> bool:
        return bool(
            self.primaries
            and any(self.departments_of.get(h.pk) for h in self.hospitals)
            and Resident.objects.exists()
        )

    # --- the run -------------------------------------------------------------------------------

    def run(self, log: Callable[[str], None]) -> dict[str, int]:
        resident_ids = list(Resident.objects.order_by("pk").values_list("pk", flat=True))
        n_up = max(1, round(len(resident_ids) * self.up_rate))
        # Downward referrals opened on their own (not as follow-ons): a share of the month's
        # upward ones growing from 5% to 25% over the year.
        plan: list[tuple[dt.datetime, str]] = []
        for _ in range(n_up):
            plan.append((self._moment(), ReferralDirection.UP))
        for at, _ in list(plan):
            share = 0.05 + 0.20 * (at - self.start) / dt.timedelta(days=365)
            if self.rng.random() < share:
                plan.append((self._moment(), ReferralDirection.DOWN))
        plan.sort()
        chosen = [self.rng.choice(resident_ids) for _ in plan]
        log(f"referrals: {len(plan):,} referrals over the year to {self.today}")
        slot_capacity = {
            d.pk: d.referral_slots_per_day for ds in self.departments_of.values() for d in ds
        }
        self.slot_capacity = slot_capacity
        for offset in range(0, len(plan), BATCH):
            batch = plan[offset : offset + BATCH]
            residents = Resident.objects.in_bulk(chosen[offset : offset + BATCH])
            walks = []
            for (at, direction), resident_id in zip(
                batch, chosen[offset : offset + BATCH], strict=True
            ):
                walk = self._referral(residents[resident_id], direction, at)
                if walk is not None:
                    walks.append(walk)
            self._write(walks)
        self._write_slots()
        return {
            "referrals": self.counts["referrals"],
            "referral_events": self.counts["events"],
            "referral_day_slots": self.counts["slots"],
        }

    def _moment(self) -> dt.datetime:
        day = self.start + dt.timedelta(days=self.rng.randrange(365))
        hour = self.rng.choice([8, 9, 9, 10, 10, 10, 11, 14, 15, 15, 16, 17])
        return day.replace(hour=hour, minute=self.rng.randrange(60), second=0, microsecond=0)

    # --- one referral --------------------------------------------------------------------------

    def _referral(self, resident: Resident, direction: str, at: dt.datetime) -> Walk | None:
        home = self.institutions.get(resident.registered_by_id)
        if home is None or home.tier != Tier.PRIMARY:
            local = [p for p in self.primaries if p.district == resident.district]
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
        )
        walk = Walk(referral)
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
             urgency, reason, criteria, at) -> Referral:  # fmt: skip
        return Referral(
            resident=resident,
            direction=direction,
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
            to_status = S.DRAFT
        else:
            transition = transition_for(from_status, action)
            assert transition is not None, (from_status, action)  # noqa: S101 - the table rules
            to_status = transition.target
        referral.status = to_status
        referral.updated_at = at
        walk.steps.append((action, from_status, to_status, at, reason, details))
        self._deadlines(referral, at)
        return True

    def _deadlines(self, referral: Referral, at: dt.datetime) -> None:
        minutes = settings.REFERRAL_DEADLINES
        status = referral.status
        due = None
        if status == S.SUBMITTED:
            referral.submitted_at = referral.submitted_at or at
            referral.decision_due_at = at + dt.timedelta(
                minutes=minutes["decision"][referral.urgency]
            )
            due = referral.decision_due_at
        elif status == S.ACCEPTED:
            referral.booking_due_at = at + dt.timedelta(minutes=minutes["booking"])
            due = referral.booking_due_at
        elif status == S.SCHEDULED and referral.appointment_date is not None:
            due = dt.datetime.combine(
                referral.appointment_date + dt.timedelta(days=1), dt.time.min, tzinfo=self.tz
            )
        elif status == S.NO_SHOW:
            due = at + dt.timedelta(minutes=minutes["no_show_notify"])
        elif status == S.ARRIVED:
            referral.feedback_due_at = at + dt.timedelta(minutes=minutes["feedback"])
            due = referral.feedback_due_at
        elif status == S.COMPLETED:
            due = at + dt.timedelta(minutes=minutes["acknowledge"])
        referral.due_at = due
        referral.overdue = False

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
        }[r.urgency]
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
            # the family-doctor team picks the resident up: its first follow-up closes the loop
            at = at + dt.timedelta(days=rng.uniform(2, 20))
            if self._step(walk, Action.CLOSE_LOOP, at, "家庭医生团队已随访"):
                r.closed_at = at
            return self._finish(walk)
        if not self._book(walk, at + self._hours(1, 60), Action.SCHEDULE):
            return self._finish(walk)
        if rng.random() < 0.06:
            missed = max(
                self._appointment_time(r.appointment_date) + dt.timedelta(hours=9),
                r.scheduled_at + dt.timedelta(hours=2),
            )
            if not self._step(walk, Action.NO_SHOW, missed):
                return self._finish(walk)
            r.no_show_at = missed
            self._release(r)
            if rng.random() < 0.6:
                if not self._book(walk, missed + self._hours(2, 20), Action.RESCHEDULE):
                    return self._finish(walk)
                r.reschedule_count = 1
            else:
                if self._step(walk, Action.CANCEL, missed + self._hours(2, 20), "患者未再联系"):
                    r.cancel_reason = "患者未再联系"
                return self._finish(walk)
        elif rng.random() < 0.02:
            when = r.scheduled_at + self._hours(1, 24)
            if self._step(walk, Action.CANCEL, when, "患者已在他院就诊"):
                r.cancel_reason = "患者已在他院就诊"
                self._release(r)
            return self._finish(walk)
        arrived = max(
            self._appointment_time(r.appointment_date) + self._hours(0, 3),
            r.scheduled_at + self._hours(0.2, 1),
        )
        if not self._step(walk, Action.ARRIVE, arrived):
            return self._finish(walk)
        r.arrived_at = arrived
        completed = arrived + self._hours(2, 90)  # some past the 3-day feedback deadline
        if not self._step(walk, Action.COMPLETE, completed, "诊疗小结 (demo summary)"):
            return self._finish(walk)
        r.completed_at = completed
        r.feedback_summary = "演示诊疗小结 (demo summary)"
        r.diagnosis = r.reason_code
        r.return_to_primary_care = rng.random() < 0.35
        if r.return_to_primary_care:
            self._follow_on(walk, completed)
        acknowledged = completed + self._hours(1, 110)
        if acknowledged - completed <= dt.timedelta(days=3):
            if self._step(walk, Action.ACKNOWLEDGE, acknowledged):
                r.closed_at = acknowledged
        else:
            auto = completed + dt.timedelta(days=3, minutes=rng.randrange(5, 60))
            if self._step(walk, Action.AUTO_CLOSE, auto, "转出方3天内未确认，系统自动闭环"):
                r.closed_at = auto
        return self._finish(walk)

    def _appointment_time(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(8, 0), tzinfo=self.tz)

    def _book(self, walk: Walk, at: dt.datetime, action: str) -> bool:
        r = walk.referral
        if at > self.now:
            return False
        day = timezone.localtime(at, self.tz).date() + dt.timedelta(days=self.rng.randint(1, 6))
        capacity = self.slot_capacity.get(r.to_department_id, 0)
        if r.urgency == ReferralUrgency.EMERGENCY:
            day = timezone.localtime(at, self.tz).date()
        elif capacity == 0:
            return False  # stays accepted: the department reserves no slots
        else:
            while self.booked[(r.to_department_id, day)] >= capacity:
                day += dt.timedelta(days=1)
            self.booked[(r.to_department_id, day)] += 1
            r._demo_slot = (r.to_department_id, day)
        r.appointment_date = day
        r.scheduled_at = at
        return self._step(walk, action, at, date=day.isoformat())

    def _release(self, r: Referral) -> None:
        key = getattr(r, "_demo_slot", None)
        if key is not None:
            self.booked[key] -= 1
            r._demo_slot = None

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
                self._release(r)
                return
            self.open_keys.add(key)
        if (
            r.status in (S.SUBMITTED, S.ACCEPTED, S.SCHEDULED, S.NO_SHOW, S.ARRIVED)
            and r.due_at is not None
            and r.due_at < self.now
        ):
            escalated = r.due_at + dt.timedelta(minutes=5)
            r.overdue = True
            r.escalated_at = escalated
            walk.steps.append(("escalate", r.status, r.status, escalated, "超时未处理，已上报", {}))

    # --- writing -------------------------------------------------------------------------------

    def _write(self, walks: list[Walk]) -> None:
        walks = [w for w in walks if w.steps]
        parents = [w.referral for w in walks]
        Referral.objects.bulk_create(parents, batch_size=BATCH)
        children = [w for w in walks if w.child_walk is not None and w.child_walk.steps]
        for w in children:
            if w.child_kind == "redirect":
                w.child.redirected_from = w.referral
        Referral.objects.bulk_create([w.child for w in children], batch_size=BATCH)
        linked = []
        for w in children:
            if w.child_kind == "follow_on":
                w.referral.follow_on = w.child
                linked.append(w.referral)
        Referral.objects.bulk_update(linked, ["follow_on"], batch_size=BATCH)
        events = []
        for w in [*walks, *(c.child_walk for c in children)]:
            for action, from_status, to_status, at, reason, details in w.steps:
                events.append(
                    ReferralEvent(
                        referral=w.referral,
                        at=at,
                        actor_label="demo",
                        action=action,
                        from_status=from_status,
                        to_status=to_status,
                        reason=reason,
                        details=details,
                    )
                )
        ReferralEvent.objects.bulk_create(events, batch_size=BATCH * 2)
        self.counts["referrals"] += len(parents) + len(children)
        self.counts["events"] += len(events)
        self._pending_slots = getattr(self, "_pending_slots", [])
        self._pending_slots.extend(
            r for r in [*parents, *(w.child for w in children)] if getattr(r, "_demo_slot", None)
        )

    def _write_slots(self) -> None:
        pending = getattr(self, "_pending_slots", [])
        keys = sorted({r._demo_slot for r in pending})
        rows = [
            DepartmentDaySlots(
                department_id=department_id,
                date=day,
                capacity=self.slot_capacity[department_id],
                booked=self.booked[(department_id, day)],
            )
            for department_id, day in keys
        ]
        DepartmentDaySlots.objects.bulk_create(rows, batch_size=BATCH)
        by_key = {
            (s.department_id, s.date): s.pk
            for s in DepartmentDaySlots.objects.filter(pk__in=[row.pk for row in rows])
        }
        for r in pending:
            r.appointment_id = by_key[r._demo_slot]
        Referral.objects.bulk_update(pending, ["appointment"], batch_size=BATCH)
        self.counts["slots"] = len(rows)


def _team_institutions() -> dict[int, int]:
    """resident id → their family-doctor team's institution id (empty before signing exists)."""
    try:
        from signing.models import ACTIVE_STATUSES, Contract
    except ImportError:
        return {}
    return dict(
        Contract.objects.filter(status__in=ACTIVE_STATUSES).values_list(
            "resident_id", "team__institution_id"
        )
    )
