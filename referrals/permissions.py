"""Who may see and move a referral (docs/design.md §4, §9). Pure predicates over the user and the
row.

Scope: staff see the referrals into and out of their own institution; a resident sees their own;
the bureau and system admins see none (they read aggregates). Which role on which side may take
which transition is the table in referrals/transitions.py.
"""

from __future__ import annotations

from healthnet.models import User, UserRole
from healthnet.permissions import has_permission, is_institution_staff
from referrals.models import Referral
from referrals.transitions import CREATING_ROLES, REFERRAL_TABLE, Side


def referral_sides(user: User, referral: Referral) -> set[str]:
    """The sides the user stands on for this referral: referring, receiving, or none."""
    if not is_institution_staff(user) or user.institution_id is None:
        return set()
    sides: set[str] = set()
    if referral.from_institution_id == user.institution_id:
        sides.add(Side.REFERRING)
    if referral.to_institution_id == user.institution_id:
        sides.add(Side.RECEIVING)
    return sides


def can_view_referral(user: User, referral: Referral) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.role == UserRole.RESIDENT:
        return user.resident_id is not None and user.resident_id == referral.resident_id
    return bool(referral_sides(user, referral))


def can_read_referral_clinical(user: User) -> bool:
    """Which view of a referral the user reads (of one they may see: can_view_referral): the
    clinical one (reason, criteria, summary, findings, diagnosis, feedback, the timeline's
    reasons) or the identity one (who, where, when, which state)."""
    return has_permission(user, "referral.read_clinical")


def can_create_referral(user: User) -> bool:
    return is_institution_staff(user) and user.role in CREATING_ROLES


def can_take_referral_action(user: User, referral: Referral, action: str) -> bool:
    """The user's side and role may take `action` (whatever the referral's current state)."""
    return REFERRAL_TABLE.may_ever_take(
        action, parties=referral_sides(user, referral), role=user.role
    )


def referral_allowed_actions(user: User, referral: Referral) -> list[str]:
    """What this user may do to the referral now (from the one workflow table)."""
    sides = referral_sides(user, referral)
    if not sides:
        return []
    return REFERRAL_TABLE.actions_for(referral.status, parties=sides, role=user.role)


def can_view_referral_slots(user: User) -> bool:
    """A department's free reserved slots per day: staff who work the referral worklists (who
    schedule) or refer (who pick a target)."""
    return is_institution_staff(user) and (
        has_permission(user, "referral.worklist") or can_create_referral(user)
    )
