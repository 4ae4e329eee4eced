"""THE contract state machine (docs/design.md §5) as one table of the shape of
healthnet/workflow.py: the states with their facts, the transitions with who may take each.

Data only (it imports no model, so `signing.models` builds its constraints from it): the services
check every move against it, the periodic jobs move contracts through it, the permission
predicates and the API read from it which actions a user may take, and `signing.actions` binds
each user action to its service and input schema.

Who may move a contract is said per party, the user's relation to the contract's team:
- `team`: a staff member who is an active member of the team (any staff role);
- `institution`: the admin of the team's institution;
- `system` (healthnet.workflow.SYSTEM): the periodic jobs; no user may take those moves.
For a switch the team is the one the resident moves to (it signs the new contract).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _

from healthnet.models import INSTITUTION_SCOPED_ROLES, UserRole
from healthnet.workflow import SYSTEM, Transition, Workflow


class ContractStatus(models.TextChoices):
    PENDING_SIGNATURE = "pending_signature", _("待签署")
    ACTIVE = "active", _("履约中")
    RENEWAL_DUE = "renewal_due", _("待续约")
    RENEWED = "renewed", _("已续约")
    SWITCHED = "switched", _("已转签")
    EXPIRED = "expired", _("已到期")
    TERMINATED = "terminated", _("已解约")


class Party(StrEnum):
    TEAM = "team"
    INSTITUTION = "institution"
    SYSTEM = SYSTEM


class Action(StrEnum):
    SIGN = "sign"
    RENEW = "renew"
    SWITCH = "switch"
    TERMINATE = "terminate"
    MARK_RENEWAL_DUE = "mark_renewal_due"
    EXPIRE = "expire"


ACTION_LABELS: dict[str, str] = {
    Action.SIGN: "签署",
    Action.RENEW: "续约",
    Action.SWITCH: "转签",
    Action.TERMINATE: "解约",
    Action.MARK_RENEWAL_DUE: "进入续约期",
    Action.EXPIRE: "到期",
}


@dataclass(frozen=True)
class StateFacts:
    # Holds a place in its team (counts in the team's load against its capacity), is the one
    # contract a resident may have in such a state (a partial unique constraint), ties the
    # resident to the team's institution, and has its follow-ups running.
    holds_place: bool = False
    terminal: bool = False


S = ContractStatus
TEAM_STAFF = frozenset(INSTITUTION_SCOPED_ROLES)
INSTITUTION_ADMIN = frozenset({UserRole.INSTITUTION_ADMIN})
# Who may take a user transition, and who may offer a contract (creation is not a transition).
# (Mapping[str, frozenset[str]]: the workflow's actor tables key parties and roles by their text.)
USER_ACTORS: Mapping[str, frozenset[str]] = {
    Party.TEAM: TEAM_STAFF,
    Party.INSTITUTION: INSTITUTION_ADMIN,
}
OFFER_ACTORS = USER_ACTORS
SYSTEM_ACTORS: Mapping[str, frozenset[str]] = {Party.SYSTEM: frozenset()}

CONTRACT_LIFECYCLE: Workflow[StateFacts] = Workflow(
    name="contract",
    states={
        S.PENDING_SIGNATURE: StateFacts(),
        S.ACTIVE: StateFacts(holds_place=True),
        S.RENEWAL_DUE: StateFacts(holds_place=True),
        S.RENEWED: StateFacts(terminal=True),
        S.SWITCHED: StateFacts(terminal=True),
        S.EXPIRED: StateFacts(terminal=True),
        S.TERMINATED: StateFacts(terminal=True),
    },
    transitions=[
        Transition(S.PENDING_SIGNATURE, Action.SIGN, S.ACTIVE, USER_ACTORS),
        Transition(S.PENDING_SIGNATURE, Action.TERMINATE, S.TERMINATED, USER_ACTORS),
        Transition(S.ACTIVE, Action.MARK_RENEWAL_DUE, S.RENEWAL_DUE, SYSTEM_ACTORS),
        Transition(S.ACTIVE, Action.TERMINATE, S.TERMINATED, USER_ACTORS),
        Transition(S.RENEWAL_DUE, Action.RENEW, S.RENEWED, USER_ACTORS),
        Transition(S.RENEWAL_DUE, Action.SWITCH, S.SWITCHED, USER_ACTORS),
        Transition(S.RENEWAL_DUE, Action.EXPIRE, S.EXPIRED, SYSTEM_ACTORS),
        Transition(S.RENEWAL_DUE, Action.TERMINATE, S.TERMINATED, USER_ACTORS),
    ],
)

# The statuses that hold a place (active, renewal_due), in the table's order.
ACTIVE_STATUSES: tuple[str, ...] = CONTRACT_LIFECYCLE.states_where(lambda f: f.holds_place)
TERMINAL_STATUSES: tuple[str, ...] = CONTRACT_LIFECYCLE.states_where(lambda f: f.terminal)

# The code of the 409 when an action is asked from a state the table has no move for.
REFUSAL_CODES: dict[str, str] = {
    Action.RENEW: "renewal_not_due",
    Action.SWITCH: "switch_not_at_term_end",
}


def state_label(status: str) -> str:
    return str(ContractStatus(status).label)


def holds_place(status: str) -> bool:
    return CONTRACT_LIFECYCLE.state(status).holds_place
