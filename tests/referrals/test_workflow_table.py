"""The facts of each referral state and action, written by hand from docs/design.md §4 and
docs/referrals.md (not read from the table), and the checks that stop a contradictory table at
import time."""

from __future__ import annotations

import dataclasses

import pytest

from healthnet.workflow import SYSTEM, Transition, Workflow, WorkflowError
from referrals import services
from referrals.models import OPEN_STATUSES, Referral, ReferralStatus
from referrals.transitions import (
    REFERRAL_TABLE,
    STATES,
    TRANSITIONS,
    Deadline,
    check_facts,
)
from referrals.workflow import REFERRAL_WORKFLOW

S = ReferralStatus
D = Deadline

# state → (open, terminal, deadline, escalates, loop_closable)
FACTS = {
    S.DRAFT: (True, False, None, False, False),
    S.SUBMITTED: (True, False, D.DECISION, True, True),
    S.ACCEPTED: (True, False, D.BOOKING, True, True),
    S.SCHEDULED: (True, False, D.APPOINTMENT_DAY, True, True),
    S.NO_SHOW: (True, False, D.NO_SHOW_NOTIFY, True, True),
    S.ARRIVED: (True, False, D.FEEDBACK, True, True),
    S.COMPLETED: (False, False, D.ACKNOWLEDGE, False, True),
    S.CLOSED: (False, True, None, False, False),
    S.REJECTED: (False, True, None, False, False),
    S.REDIRECTED: (False, True, None, False, False),
    S.CANCELLED: (False, True, None, False, False),
}


@pytest.mark.parametrize("status", list(S))
def test_state_facts(status):
    facts = REFERRAL_WORKFLOW.state(status)
    assert (
        facts.open,
        facts.terminal,
        facts.deadline,
        facts.escalates,
        facts.loop_closable,
    ) == FACTS[status]
    assert facts.label == status.label


def test_the_open_states_are_the_database_constraint_and_the_model_property():
    open_states = {s for s, facts in FACTS.items() if facts[0]}
    assert set(OPEN_STATUSES) == open_states
    constraint = next(
        c for c in Referral._meta.constraints if c.name == "referral_one_open_per_target"
    )
    assert set(dict(constraint.condition.children)["status__in"]) == open_states
    for status in S:
        assert Referral(status=status).is_open == (status in open_states)


def test_system_moves_come_from_the_facts():
    loop_closable = {s for s, facts in FACTS.items() if facts[4]}
    assert set(REFERRAL_TABLE.sources_of("close_loop")) == loop_closable
    assert REFERRAL_TABLE.sources_of("auto_close") == (S.COMPLETED,)
    assert REFERRAL_TABLE.system_actions == {"close_loop", "auto_close"}


def test_every_user_action_is_bound_to_its_service():
    expected = {
        "submit": services.referral_submit,
        "accept": services.referral_accept,
        "reject": services.referral_reject,
        "schedule": services.referral_schedule,
        "arrive": services.referral_arrive,
        "no_show": services.referral_no_show,
        "reschedule": services.referral_reschedule,
        "complete": services.referral_complete,
        "acknowledge": services.referral_acknowledge,
        "cancel": services.referral_cancel,
    }
    bound = {name: spec.service for name, spec in REFERRAL_WORKFLOW.actions.items()}
    assert set(bound) == set(expected) | {"redirect"}
    for name, service in expected.items():
        assert bound[name] is service, name
    # redirect names its target by public id: an adapter resolves it, then referral_redirect


def _table_with(status, **changes):
    states = dict(STATES)
    states[status] = dataclasses.replace(states[status], **changes)
    transitions = [t for t in TRANSITIONS if not (t.action == "close_loop" and t.source == status)]
    return Workflow(name="referral", states=states, transitions=transitions)


@pytest.mark.parametrize(
    ("status", "changes", "message"),
    [
        (S.SUBMITTED, {"deadline": None}, "escalates without a deadline"),
        (S.DRAFT, {"deadline": D.DECISION}, "nothing happens when"),
        (S.CLOSED, {"open": True}, "terminal"),
        (S.CANCELLED, {"deadline": D.BOOKING}, "terminal"),
        (S.COMPLETED, {"terminal": True}, "terminal"),
    ],
)
def test_contradictory_facts_are_refused(status, changes, message):
    with pytest.raises(WorkflowError, match=message):
        check_facts(_table_with(status, **changes))


def test_a_state_nothing_leaves_must_be_terminal():
    transitions = [t for t in TRANSITIONS if t.source != S.DRAFT]
    table = Workflow(name="referral", states=STATES, transitions=transitions)
    with pytest.raises(WorkflowError, match="nothing leaves it"):
        check_facts(table)


def test_a_terminal_state_with_a_way_out_is_refused():
    transitions = [*TRANSITIONS, Transition(S.CLOSED, "reopen", S.SUBMITTED, {SYSTEM: frozenset()})]
    table = Workflow(name="referral", states=STATES, transitions=transitions)
    with pytest.raises(WorkflowError, match="terminal"):
        check_facts(table)
