"""Every write of a referral (docs/design.md §4).

Each transition service locks the referral row, checks the workflow table
(referrals/transitions.py) and the actor's side and role, saves (the table's facts set the new
step's deadline), writes the timeline event and the audit event in the same transaction, and
queues notifications through the outbox (delivered after commit). A refusal raises before
anything is written:

- Conflict `transition_not_allowed` (409) with details {"allowed_actions": [...]}: the state
  does not allow the action (the list is what this actor may do now);
- Forbidden (403): the state allows it, but not for this actor's side or role.

Services take typed values; referrals/workflow.py binds each user action of the table to its
service and its input schema (the API's one door). The periodic jobs (overdue escalation,
auto-close) are in referrals/escalation.py. The package splits the services by step; import
them from here.
"""

from referrals.services.booking import (
    referral_arrive,
    referral_no_show,
    referral_reschedule,
    referral_schedule,
)
from referrals.services.create import referral_create, referral_submit
from referrals.services.decision import referral_accept, referral_redirect, referral_reject
from referrals.services.feedback import (
    followup_recorded,
    referral_acknowledge,
    referral_cancel,
    referral_close_loop_by_followup,
    referral_complete,
)
from referrals.services.steps import (
    direction_between,
    move_to,
    notify_users,
    recipient_of,
    record_event,
    subject_for,
)

__all__ = [
    "direction_between",
    "followup_recorded",
    "move_to",
    "notify_users",
    "recipient_of",
    "record_event",
    "referral_accept",
    "referral_acknowledge",
    "referral_arrive",
    "referral_cancel",
    "referral_close_loop_by_followup",
    "referral_complete",
    "referral_create",
    "referral_no_show",
    "referral_redirect",
    "referral_reject",
    "referral_reschedule",
    "referral_schedule",
    "referral_submit",
    "subject_for",
]
