"""The workflow table shape (healthnet/workflow.py): lookups, who may act, and the checks that
stop an inconsistent table at import time."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from healthnet.workflow import SYSTEM, ActionSpec, Transition, Workflow, WorkflowError


@dataclass(frozen=True)
class Facts:
    terminal: bool = False


def _table() -> Workflow[Facts]:
    return Workflow(
        name="door",
        states={"shut": Facts(), "open": Facts(), "gone": Facts(terminal=True)},
        transitions=[
            Transition("shut", "open", "open", {"inside": frozenset({"porter"})}),
            Transition(
                "open",
                "shut",
                "shut",
                {"inside": frozenset({"porter"}), "outside": frozenset({"guest"})},
            ),
            Transition("open", "demolish", "gone", {SYSTEM: frozenset()}),
        ],
    )


def test_lookups_and_who_may_act():
    door = _table()
    assert door.transition("shut", "open").target == "open"
    assert door.transition("shut", "shut") is None
    assert door.user_actions == {"open", "shut"}
    assert door.system_actions == {"demolish"}
    assert door.actions_from("open") == ["shut"]
    assert door.actions_for("open", parties={"outside"}, role="guest") == ["shut"]
    assert door.actions_for("open", parties={"outside"}, role="porter") == []
    assert door.actions_for("shut", parties={"inside", "outside"}, role="porter") == ["open"]
    assert door.may_ever_take("open", parties={"inside"}, role="porter")
    assert not door.may_ever_take("open", parties={"outside"}, role="guest")
    assert door.states_where(lambda f: f.terminal) == ("gone",)
    assert door.sources_of("shut") == ("open",)


def test_no_user_may_take_a_system_move_whatever_their_role():
    move = _table().transition("open", "demolish")
    assert move.system
    assert not move.allows(parties={SYSTEM, "inside"}, role="porter")


def test_an_unknown_state_or_a_doubled_transition_is_refused_at_build_time():
    with pytest.raises(WorkflowError, match="unknown state"):
        Workflow(name="x", states={"a": Facts()}, transitions=[Transition("a", "go", "b")])
    with pytest.raises(WorkflowError, match="two transitions"):
        Workflow(
            name="x",
            states={"a": Facts(), "b": Facts()},
            transitions=[Transition("a", "go", "b"), Transition("a", "go", "a")],
        )


def test_bound_actions_must_match_the_user_actions_exactly():
    door = _table()

    def noop(**kwargs):
        return None

    bound = door.bind_actions([ActionSpec("open", "开", noop), ActionSpec("shut", "关", noop)])
    assert set(bound) == {"open", "shut"}
    with pytest.raises(WorkflowError, match="without a spec"):
        door.bind_actions([ActionSpec("open", "开", noop)])
    with pytest.raises(WorkflowError, match="without a user transition"):
        door.bind_actions(
            [
                ActionSpec("open", "开", noop),
                ActionSpec("shut", "关", noop),
                ActionSpec("demolish", "拆", noop),
            ]
        )
    with pytest.raises(WorkflowError, match="bound twice"):
        door.bind_actions([ActionSpec("open", "开", noop), ActionSpec("open", "开", noop)])
