"""THE referral workflow table (docs/design.md §4), data only: its states with their facts, and its
transitions with which party (referring / receiving institution, or the system) and which staff
roles may take each.

Everything that depends on a state reads its facts here, never a list of its own: the deadline
a step carries (`set_due`), which steps escalate when it is missed and which close by themselves
(referrals/escalation.py), which are still open for the one-open-referral rule (the database
constraint in referrals/models.py and the duplicate check), which are terminal, and from which
the family-doctor team's follow-up closes a downward referral. The services check every move
against the transitions; the API (409 answers list `allowed_actions`) and the portal read the
same table. The actions (their input schema and service) are bound to it one layer up, in
referrals/workflow.py, so that models and services can import this module without a cycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from healthnet.models import UserRole
from healthnet.workflow import SYSTEM, Transition, Workflow, WorkflowError


class ReferralStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("已提交")
    ACCEPTED = "accepted", _("已接收")
    SCHEDULED = "scheduled", _("已预约")
    NO_SHOW = "no_show", _("爽约")
    ARRIVED = "arrived", _("已到诊")
    COMPLETED = "completed", _("已完成")
    CLOSED = "closed", _("已闭环")
    REJECTED = "rejected", _("已拒绝")
    REDIRECTED = "redirected", _("已改转")
    CANCELLED = "cancelled", _("已取消")


class Side(StrEnum):
    """The party a staff user stands on for a referral (healthnet.workflow: parties)."""

    REFERRING = "referring"  # staff of the referral's from_institution
    RECEIVING = "receiving"  # staff of the referral's to_institution


class Action(StrEnum):
    SUBMIT = "submit"
    ACCEPT = "accept"
    REJECT = "reject"
    REDIRECT = "redirect"
    SCHEDULE = "schedule"
    ARRIVE = "arrive"
    NO_SHOW = "no_show"
    RESCHEDULE = "reschedule"
    COMPLETE = "complete"
    ACKNOWLEDGE = "acknowledge"
    CANCEL = "cancel"
    AUTO_CLOSE = "auto_close"
    CLOSE_LOOP = "close_loop"


class Deadline(StrEnum):
    """The deadline a step carries (minutes in settings.REFERRAL_DEADLINES, except the end of
    the appointment day)."""

    DECISION = "decision"  # submitted → decided; by urgency
    BOOKING = "booking"  # accepted → scheduled
    APPOINTMENT_DAY = "appointment_day"  # scheduled → arrived / no-show by the end of the day
    NO_SHOW_NOTIFY = "no_show_notify"  # no-show → rebooked or cancelled, referrer told
    FEEDBACK = "feedback"  # arrived → completed
    ACKNOWLEDGE = "acknowledge"  # completed → acknowledged, else closed by the system


# The Referral field that keeps a deadline after its step is over (reports read them).
DEADLINE_FIELDS: Mapping[Deadline, str] = {
    Deadline.DECISION: "decision_due_at",
    Deadline.BOOKING: "booking_due_at",
    Deadline.FEEDBACK: "feedback_due_at",
}


@dataclass(frozen=True)
class ReferralState:
    """The facts of one state.

    open: counts for the one-open-referral rule (resident × target department × direction);
    terminal: nothing moves it any more;
    deadline: the deadline of the step (sets `Referral.due_at` on entry), or None;
    escalates: a missed deadline flags the referral overdue and escalates (otherwise the
        system's own transition from the state handles it: auto-close);
    loop_closable: the family-doctor team's follow-up closes a downward referral in it.
    """

    label: str | Promise
    open: bool = False
    terminal: bool = False
    deadline: Deadline | None = None
    escalates: bool = False
    loop_closable: bool = False


S = ReferralStatus
R = UserRole
REFERRING_CLINICIANS = frozenset({R.DOCTOR, R.REFERRAL_COORDINATOR})
RECEIVING_DECIDERS = frozenset({R.REFERRAL_COORDINATOR, R.DOCTOR})
RECEIVING_DESK = frozenset({R.REFERRAL_COORDINATOR, R.CLERK, R.NURSE, R.DOCTOR})
RECEIVING_DOCTOR = frozenset({R.DOCTOR})
RECEIVING_OFFICE = frozenset({R.REFERRAL_COORDINATOR})

# Who may create a referral at their institution (it starts as a draft, then `submit`).
CREATING_ROLES = REFERRING_CLINICIANS


def _state(status: ReferralStatus, **facts: Any) -> tuple[str, ReferralState]:
    return status, ReferralState(label=status.label, **facts)


# A completed referral only waits for the referrer's acknowledgement: not open (a new referral to
# the same department may be made), and its missed deadline closes it (auto_close) instead of
# escalating.
STATES: Mapping[str, ReferralState] = dict(
    [
        _state(S.DRAFT, open=True),
        _state(
            S.SUBMITTED,
            open=True,
            deadline=Deadline.DECISION,
            escalates=True,
            loop_closable=True,
        ),
        _state(
            S.ACCEPTED, open=True, deadline=Deadline.BOOKING, escalates=True, loop_closable=True
        ),
        _state(
            S.SCHEDULED,
            open=True,
            deadline=Deadline.APPOINTMENT_DAY,
            escalates=True,
            loop_closable=True,
        ),
        _state(
            S.NO_SHOW,
            open=True,
            deadline=Deadline.NO_SHOW_NOTIFY,
            escalates=True,
            loop_closable=True,
        ),
        _state(
            S.ARRIVED, open=True, deadline=Deadline.FEEDBACK, escalates=True, loop_closable=True
        ),
        _state(S.COMPLETED, deadline=Deadline.ACKNOWLEDGE, loop_closable=True),
        _state(S.CLOSED, terminal=True),
        _state(S.REJECTED, terminal=True),
        _state(S.REDIRECTED, terminal=True),
        _state(S.CANCELLED, terminal=True),
    ]
)


def _t(source: str, action: str, target: str, **actors: frozenset[str]) -> Transition:
    return Transition(source, action, target, {Side(side): roles for side, roles in actors.items()})


def _system(source: str, action: str, target: str) -> Transition:
    return Transition(source, action, target, {SYSTEM: frozenset()})


TRANSITIONS: tuple[Transition, ...] = (
    _t(S.DRAFT, Action.SUBMIT, S.SUBMITTED, referring=REFERRING_CLINICIANS),
    _t(S.DRAFT, Action.CANCEL, S.CANCELLED, referring=REFERRING_CLINICIANS),
    _t(S.SUBMITTED, Action.ACCEPT, S.ACCEPTED, receiving=RECEIVING_DECIDERS),
    _t(S.SUBMITTED, Action.REJECT, S.REJECTED, receiving=RECEIVING_DECIDERS),
    _t(S.SUBMITTED, Action.REDIRECT, S.REDIRECTED, receiving=RECEIVING_DECIDERS),
    _t(S.SUBMITTED, Action.CANCEL, S.CANCELLED, referring=REFERRING_CLINICIANS),
    _t(S.ACCEPTED, Action.SCHEDULE, S.SCHEDULED, receiving=RECEIVING_DESK),
    _t(
        S.ACCEPTED,
        Action.CANCEL,
        S.CANCELLED,
        referring=REFERRING_CLINICIANS,
        receiving=RECEIVING_OFFICE,
    ),
    _t(S.SCHEDULED, Action.ARRIVE, S.ARRIVED, receiving=RECEIVING_DESK),
    _t(S.SCHEDULED, Action.NO_SHOW, S.NO_SHOW, receiving=RECEIVING_DESK),
    _t(
        S.SCHEDULED,
        Action.CANCEL,
        S.CANCELLED,
        referring=REFERRING_CLINICIANS,
        receiving=RECEIVING_OFFICE,
    ),
    _t(S.NO_SHOW, Action.RESCHEDULE, S.SCHEDULED, receiving=RECEIVING_DESK),
    _t(
        S.NO_SHOW,
        Action.CANCEL,
        S.CANCELLED,
        referring=REFERRING_CLINICIANS,
        receiving=RECEIVING_OFFICE,
    ),
    _t(S.ARRIVED, Action.COMPLETE, S.COMPLETED, receiving=RECEIVING_DOCTOR),
    _t(S.COMPLETED, Action.ACKNOWLEDGE, S.CLOSED, referring=REFERRING_CLINICIANS),
    # The acknowledgement deadline missed: the system closes it.
    _system(S.COMPLETED, Action.AUTO_CLOSE, S.CLOSED),
    # A downward referral is closed by the family-doctor team's first follow-up after it.
    *(
        _system(status, Action.CLOSE_LOOP, S.CLOSED)
        for status, facts in STATES.items()
        if facts.loop_closable
    ),
)

REFERRAL_TABLE: Workflow[ReferralState] = Workflow(
    name="referral", states=STATES, transitions=TRANSITIONS
)


def check_facts(table: Workflow[ReferralState]) -> None:
    """Facts that contradict each other or the transitions stop the import."""
    if set(table.states) != set(ReferralStatus.values):
        raise WorkflowError("referral: the table's states differ from ReferralStatus")
    auto_closing = set(table.sources_of(Action.AUTO_CLOSE))
    for status, facts in table.states.items():
        leaves = any(t.source == status for t in table.transitions)
        if facts.terminal and (facts.open or facts.deadline or leaves):
            raise WorkflowError(f"referral: terminal {status} is open, has a deadline or exits")
        if not facts.terminal and not leaves:
            raise WorkflowError(f"referral: {status} is not terminal but nothing leaves it")
        if facts.escalates and facts.deadline is None:
            raise WorkflowError(f"referral: {status} escalates without a deadline")
        if facts.deadline is not None and not (facts.escalates or status in auto_closing):
            raise WorkflowError(f"referral: nothing happens when {status}'s deadline is missed")


check_facts(REFERRAL_TABLE)

OPEN_STATUSES: tuple[str, ...] = REFERRAL_TABLE.states_where(lambda f: f.open)
TERMINAL_STATUSES: tuple[str, ...] = REFERRAL_TABLE.states_where(lambda f: f.terminal)
ESCALATING_STATUSES: tuple[str, ...] = REFERRAL_TABLE.states_where(lambda f: f.escalates)
LOOP_CLOSABLE_STATUSES: tuple[str, ...] = REFERRAL_TABLE.states_where(lambda f: f.loop_closable)
AUTO_CLOSING_STATUSES: tuple[str, ...] = REFERRAL_TABLE.sources_of(Action.AUTO_CLOSE)


# --- how each direction's loop closes (闭环) ------------------------------------------------------


@dataclass(frozen=True)
class LoopClosure:
    """Which event closes a referral's loop, per direction (docs/design.md §4, docs/referrals.md).

    answered_by: what answers the referral (the receiving hospital's feedback, or the family-doctor
        team's follow-up);
    closing_actions: the actions whose timeline event closes the loop (the referral is then
        closed, `closed_at` set);
    from_statuses: the states they close it from.

    An upward referral's loop closes when the referrer acknowledges the feedback (or the system
    after the acknowledgement deadline): complete → closed. A downward referral never passes
    through `completed`: the team's first follow-up after it closes it from any loop-closable
    state (`close_loop`), and that follow-up is linked to it (Referral.closing_followup).
    """

    direction: str
    answered_by: str
    closing_actions: tuple[str, ...]
    from_statuses: tuple[str, ...]


LOOP_CLOSURE: Mapping[str, LoopClosure] = {
    "up": LoopClosure(
        direction="up",
        answered_by="feedback",
        closing_actions=(Action.ACKNOWLEDGE, Action.AUTO_CLOSE),
        from_statuses=(S.COMPLETED,),
    ),
    "down": LoopClosure(
        direction="down",
        answered_by="followup",
        closing_actions=(Action.CLOSE_LOOP,),
        from_statuses=LOOP_CLOSABLE_STATUSES,
    ),
}


def loop_closing_actions(direction: str) -> tuple[str, ...]:
    """The actions whose event closes the loop of a referral of this direction."""
    return LOOP_CLOSURE[direction].closing_actions


def check_loop_closure(table: Workflow[ReferralState]) -> None:
    """Each direction's closing actions lead from its states to a terminal state in the table."""
    for closure in LOOP_CLOSURE.values():
        for status in closure.from_statuses:
            moves = [table.transition(status, action) for action in closure.closing_actions]
            found = [t for t in moves if t is not None]
            if not found or any(not table.state(t.target).terminal for t in found):
                raise WorkflowError(
                    f"referral: the {closure.direction} loop does not close from {status}"
                )


check_loop_closure(REFERRAL_TABLE)


def transition_for(status: str, action: str) -> Transition | None:
    """The transition of `action` from `status`, user or system, or None."""
    return REFERRAL_TABLE.transition(status, action)


# --- deadlines ---------------------------------------------------------------------------------


def deadline(kind: str, urgency: str | None = None) -> dt.timedelta:
    """A deadline from settings.REFERRAL_DEADLINES (minutes); `decision` depends on urgency."""
    value = cast("int | dict[str, int]", settings.REFERRAL_DEADLINES[kind])
    minutes = value[str(urgency)] if isinstance(value, dict) else value
    return dt.timedelta(minutes=minutes)


def end_of_local_day(day: dt.date) -> dt.datetime:
    """Midnight after `day` in the local time zone (Asia/Shanghai): the day's last moment."""
    tz = timezone.get_current_timezone()
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)


def due_at(
    kind: Deadline, *, entered_at: dt.datetime, urgency: str, appointment_date: dt.date | None
) -> dt.datetime | None:
    """When a step of deadline `kind` entered at `entered_at` is due."""
    if kind == Deadline.APPOINTMENT_DAY:
        return end_of_local_day(appointment_date) if appointment_date is not None else None
    return entered_at + deadline(kind, urgency)


def set_due(referral: Any, now: dt.datetime) -> None:
    """Set the deadline of the step the referral has just entered (its state's fact), keep it in
    the step's own field where it has one, and clear the overdue flag: a new step is not late.
    Pure: it changes the object, not the database (the demo generator calls it too)."""
    kind = REFERRAL_TABLE.state(referral.status).deadline
    due = None
    if kind is not None:
        due = due_at(
            kind,
            entered_at=now,
            urgency=referral.urgency,
            appointment_date=referral.appointment_date,
        )
        if kind in DEADLINE_FIELDS:
            setattr(referral, DEADLINE_FIELDS[kind], due)
    referral.due_at = due
    referral.overdue = False
