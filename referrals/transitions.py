"""THE transition table of a referral (DESIGN §4): state → action → next state, and which side
(referring / receiving institution) with which staff roles may take it.

Services, the API (409 answers list `allowed_actions`) and the portal all read this table; it
is the one place to change the workflow. System moves (auto-close, loop closure by a follow-up)
are listed too, with side SYSTEM: no user may take them through the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from healthnet.models import UserRole
from referrals.models import ReferralStatus as S


class Side(StrEnum):
    REFERRING = "referring"  # staff of the referral's from_institution
    RECEIVING = "receiving"  # staff of the referral's to_institution
    SYSTEM = "system"  # periodic jobs and hooks, never a user request


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


R = UserRole
REFERRING_CLINICIANS = frozenset({R.DOCTOR, R.REFERRAL_COORDINATOR})
RECEIVING_DECIDERS = frozenset({R.REFERRAL_COORDINATOR, R.DOCTOR})
RECEIVING_DESK = frozenset({R.REFERRAL_COORDINATOR, R.CLERK, R.NURSE, R.DOCTOR})
RECEIVING_DOCTOR = frozenset({R.DOCTOR})
RECEIVING_OFFICE = frozenset({R.REFERRAL_COORDINATOR})
SYSTEM_ONLY = frozenset[str]()

# Who may create a referral at their institution (it starts as a draft, then `submit`).
CREATING_ROLES = REFERRING_CLINICIANS


@dataclass(frozen=True)
class Transition:
    source: str
    action: str
    target: str
    # side → roles of that side allowed to take the transition
    actors: dict[str, frozenset[str]]


def _t(source: str, action: str, target: str, **actors: frozenset[str]) -> Transition:
    return Transition(source, action, target, {Side(side): roles for side, roles in actors.items()})


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
    _t(S.COMPLETED, Action.AUTO_CLOSE, S.CLOSED, system=SYSTEM_ONLY),
    # A downward referral is closed by the family-doctor team's first follow-up after it.
    *(
        _t(source, Action.CLOSE_LOOP, S.CLOSED, system=SYSTEM_ONLY)
        for source in (S.SUBMITTED, S.ACCEPTED, S.SCHEDULED, S.NO_SHOW, S.ARRIVED, S.COMPLETED)
    ),
)

TRANSITION_BY_KEY: dict[tuple[str, str], Transition] = {
    (t.source, t.action): t for t in TRANSITIONS
}
USER_ACTIONS: frozenset[str] = frozenset(
    t.action for t in TRANSITIONS if Side.SYSTEM not in t.actors
)


def transition_for(status: str, action: str) -> Transition | None:
    return TRANSITION_BY_KEY.get((status, action))


def actions_from(status: str) -> list[str]:
    """Every user action the state allows, whoever may take it."""
    return [t.action for t in TRANSITIONS if t.source == status and Side.SYSTEM not in t.actors]


def actions_for(status: str, *, sides: set[str], role: str) -> list[str]:
    """The user actions a user on `sides` with `role` may take from `status`."""
    return [
        t.action
        for t in TRANSITIONS
        if t.source == status
        and any(role in t.actors.get(side, frozenset()) for side in sides)
        and Side.SYSTEM not in t.actors
    ]


def may_take(transition: Transition, *, sides: set[str], role: str) -> bool:
    return any(role in transition.actors.get(side, frozenset()) for side in sides)
