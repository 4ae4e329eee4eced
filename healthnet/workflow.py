"""One shape for every workflow of the network (a referral, a contract): its states with their
facts, its transitions with who may take each, and its actions with their input and service.

A workflow module declares one `Workflow` (data only, importable by its services); the services
check every move against it; the API, the portal and the periodic jobs read from it which actions
a user may take now, what each action needs, and which states escalate or hold a deadline. There
is one place to change a workflow (docs/architecture.md).

Who may take a transition is said per *party*: the user's relation to the record (for a referral
the referring or the receiving institution, for a contract the team or its institution's admin),
each with the roles of that party allowed. `SYSTEM` moves (periodic jobs, hooks) are listed in the
same table but no user may take them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

SYSTEM = "system"


@dataclass(frozen=True)
class Transition:
    source: str
    action: str
    target: str
    # party → roles of that party allowed to take the transition; {SYSTEM: ∅} for system moves
    actors: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def system(self) -> bool:
        return SYSTEM in self.actors

    def allows(self, *, parties: Iterable[str], role: str) -> bool:
        """May a user standing as `parties` with `role` take it (never a system move)?"""
        if self.system:
            return False
        return any(role in self.actors.get(party, frozenset()) for party in parties)


@dataclass(frozen=True)
class ActionSpec:
    """What a user action needs and does: its label for buttons, the schema of its input (None:
    it takes none) and the service that performs it, called as
    `service(<record>=..., actor=..., **input.model_dump())`."""

    name: str
    label: str
    service: Callable[..., Any]
    input: type | None = None
    description: str = ""


StateFacts = TypeVar("StateFacts")


class WorkflowError(Exception):
    """The table itself is inconsistent (raised at import time, so a bad table never runs)."""


class Workflow(Generic[StateFacts]):
    def __init__(
        self,
        *,
        name: str,
        states: Mapping[str, StateFacts],
        transitions: Iterable[Transition],
    ) -> None:
        self.name = name
        self.states: Mapping[str, StateFacts] = dict(states)
        self.transitions: tuple[Transition, ...] = tuple(transitions)
        self._by_key: dict[tuple[str, str], Transition] = {}
        for transition in self.transitions:
            for state in (transition.source, transition.target):
                if state not in self.states:
                    raise WorkflowError(f"{name}: unknown state {state!r} in {transition}")
            key = (transition.source, transition.action)
            if key in self._by_key:
                raise WorkflowError(f"{name}: two transitions for {key}")
            self._by_key[key] = transition
        self.user_actions: frozenset[str] = frozenset(
            t.action for t in self.transitions if not t.system
        )
        self.system_actions: frozenset[str] = frozenset(
            t.action for t in self.transitions if t.system
        )

    # --- states --------------------------------------------------------------------------------

    def state(self, name: str) -> StateFacts:
        return self.states[name]

    def states_where(self, predicate: Callable[[StateFacts], bool]) -> tuple[str, ...]:
        """The states whose facts satisfy `predicate`, in the table's order."""
        return tuple(name for name, facts in self.states.items() if predicate(facts))

    # --- transitions ---------------------------------------------------------------------------

    def transition(self, state: str, action: str) -> Transition | None:
        return self._by_key.get((state, action))

    def sources_of(self, action: str) -> tuple[str, ...]:
        """Every state the action may be taken from."""
        return tuple(t.source for t in self.transitions if t.action == action)

    def actions_from(self, state: str) -> list[str]:
        """Every user action the state allows, whoever may take it."""
        return [t.action for t in self.transitions if t.source == state and not t.system]

    def actions_for(self, state: str, *, parties: Iterable[str], role: str) -> list[str]:
        """The user actions a user on `parties` with `role` may take from `state`."""
        parties = tuple(parties)
        return [
            t.action
            for t in self.transitions
            if t.source == state and t.allows(parties=parties, role=role)
        ]

    def may_ever_take(self, action: str, *, parties: Iterable[str], role: str) -> bool:
        """May the user take `action` from some state (whatever the record's state now)?"""
        parties = tuple(parties)
        return any(
            t.allows(parties=parties, role=role) for t in self.transitions if t.action == action
        )

    # --- actions -------------------------------------------------------------------------------

    def bind_actions(self, specs: Iterable[ActionSpec]) -> dict[str, ActionSpec]:
        """Check that `specs` describe exactly the user actions of the table, once each, and
        return them by name. Called by the module that binds services to the table."""
        bound: dict[str, ActionSpec] = {}
        for spec in specs:
            if spec.name in bound:
                raise WorkflowError(f"{self.name}: action {spec.name!r} bound twice")
            bound[spec.name] = spec
        missing = self.user_actions - bound.keys()
        extra = bound.keys() - self.user_actions
        if missing or extra:
            raise WorkflowError(
                f"{self.name}: actions without a spec {sorted(missing)}, "
                f"specs without a user transition {sorted(extra)}"
            )
        return bound
