"""Every state × action × (side, role): allowed moves write their timeline row; refused ones
(409 state / 403 role / out of scope) change nothing.

The expectation below is written from docs/design.md §4 by hand, independently of
referrals/transitions.py, so a wrong table fails here. The moves go through the one door the API
uses (referrals.workflow.REFERRAL_WORKFLOW.run, each action with its own input schema)."""

from __future__ import annotations

import pytest

from healthnet.errors import Conflict, Forbidden, NotFound
from healthnet.models import AuditEvent, OutboxMessage, UserRole
from referrals.models import DepartmentDaySlots, Referral, ReferralEvent, ReferralStatus
from referrals.workflow import REFERRAL_WORKFLOW
from tests.referrals.support import referral_in, tomorrow

S = ReferralStatus
R = UserRole

STATES = [s.value for s in S]
ACTIONS = [
    "submit",
    "accept",
    "reject",
    "redirect",
    "schedule",
    "arrive",
    "no_show",
    "reschedule",
    "complete",
    "acknowledge",
    "cancel",
]
ACTORS = [
    ("referring", R.DOCTOR),
    ("referring", R.REFERRAL_COORDINATOR),
    ("referring", R.CLERK),
    ("receiving", R.DOCTOR),
    ("receiving", R.REFERRAL_COORDINATOR),
    ("receiving", R.CLERK),
    ("receiving", R.NURSE),
    ("receiving", R.INSTITUTION_ADMIN),
    ("outsider", R.DOCTOR),
]

REF_CLINICIANS = {("referring", R.DOCTOR), ("referring", R.REFERRAL_COORDINATOR)}
DECIDERS = {("receiving", R.DOCTOR), ("receiving", R.REFERRAL_COORDINATOR)}
DESK = {
    ("receiving", R.DOCTOR),
    ("receiving", R.REFERRAL_COORDINATOR),
    ("receiving", R.CLERK),
    ("receiving", R.NURSE),
}
CANCELLERS = REF_CLINICIANS | {("receiving", R.REFERRAL_COORDINATOR)}

# (state, action) → (next state, who may)
EXPECTED = {
    (S.DRAFT, "submit"): (S.SUBMITTED, REF_CLINICIANS),
    (S.DRAFT, "cancel"): (S.CANCELLED, REF_CLINICIANS),
    (S.SUBMITTED, "accept"): (S.ACCEPTED, DECIDERS),
    (S.SUBMITTED, "reject"): (S.REJECTED, DECIDERS),
    (S.SUBMITTED, "redirect"): (S.REDIRECTED, DECIDERS),
    (S.SUBMITTED, "cancel"): (S.CANCELLED, REF_CLINICIANS),
    (S.ACCEPTED, "schedule"): (S.SCHEDULED, DESK),
    (S.ACCEPTED, "cancel"): (S.CANCELLED, CANCELLERS),
    (S.SCHEDULED, "arrive"): (S.ARRIVED, DESK),
    (S.SCHEDULED, "no_show"): (S.NO_SHOW, DESK),
    (S.SCHEDULED, "cancel"): (S.CANCELLED, CANCELLERS),
    (S.NO_SHOW, "reschedule"): (S.SCHEDULED, DESK),
    (S.NO_SHOW, "cancel"): (S.CANCELLED, CANCELLERS),
    (S.ARRIVED, "complete"): (S.COMPLETED, {("receiving", R.DOCTOR)}),
    (S.COMPLETED, "acknowledge"): (S.CLOSED, REF_CLINICIANS),
}


def _params(net, action):
    return {
        "reject": {"reason_code": "not_indicated", "comment": "暂不需要住院"},
        "redirect": {"to_department": net.specialist_dept.public_id},
        "schedule": {"date": tomorrow()},
        "reschedule": {"date": tomorrow()},
        "complete": {"summary": "诊疗结束", "diagnosis": "稳定型心绞痛"},
        "cancel": {"reason": "患者要求"},
    }.get(action, {})


def _actor(net, side, role):
    institution = {"referring": net.primary, "receiving": net.tertiary, "outsider": net.primary_b}
    return net.user(institution[side], role)


def _snapshot(referral):
    referral = Referral.objects.get(pk=referral.pk)
    return {
        "row": {f.attname: getattr(referral, f.attname) for f in Referral._meta.concrete_fields},
        "events": ReferralEvent.objects.count(),
        "audit": AuditEvent.objects.count(),
        "outbox": OutboxMessage.objects.count(),
        "referrals": Referral.objects.count(),
        "booked": list(DepartmentDaySlots.objects.values_list("booked", flat=True)),
    }


@pytest.mark.parametrize(("side", "role"), ACTORS, ids=lambda v: str(v))
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("state", STATES)
def test_matrix(net, state, action, side, role):
    referral = referral_in(net, state)
    assert referral.status == state
    actor = _actor(net, side, role)
    expected = EXPECTED.get((state, action))
    before = _snapshot(referral)

    def act():
        schema = REFERRAL_WORKFLOW.action(action).input
        payload = schema(**_params(net, action)) if schema is not None else None
        return REFERRAL_WORKFLOW.run(action, referral=referral, actor=actor, payload=payload)

    if side == "outsider":
        with pytest.raises(Forbidden) as refused:
            act()
        assert refused.value.code == "referral_out_of_scope"
    elif expected is None:
        with pytest.raises(Conflict) as refused:
            act()
        assert refused.value.code == "transition_not_allowed"
        allowed_now = [
            a for (st, a), (_, who) in EXPECTED.items() if st == state and (side, role) in who
        ]
        assert sorted(refused.value.details["allowed_actions"]) == sorted(allowed_now)
    elif (side, role) not in expected[1]:
        with pytest.raises(Forbidden) as refused:
            act()
        assert refused.value.code == "referral_action_forbidden"
    else:
        act()
        referral.refresh_from_db()
        assert referral.status == expected[0]
        event = referral.events.order_by("-pk").first()
        assert (event.action, event.from_status, event.to_status, event.actor_id) == (
            action,
            state,
            expected[0],
            actor.pk,
        )
        assert AuditEvent.objects.filter(
            action=f"referral_{action}", object_id=str(referral.public_id)
        ).exists()
        return
    assert _snapshot(referral) == before


@pytest.mark.parametrize("action", ["auto_close", "close_loop", "escalate", "create"])
def test_no_user_may_take_a_system_move(net, action):
    referral = referral_in(net, S.COMPLETED)
    before = _snapshot(referral)
    with pytest.raises(NotFound) as refused:
        REFERRAL_WORKFLOW.run(action, referral=referral, actor=net.referrer)
    assert refused.value.code == "action_unknown"
    assert _snapshot(referral) == before
