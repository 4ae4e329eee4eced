"""Who may do what with health codes. Pure predicates (STYLE: permissions.py); which roles have
each permission is the catalogue's (healthnet.permissions.PERMISSIONS, "healthcode.*").

- Any institution staff member may scan a code, for any purpose, at their institution.
- What the scan shows depends on the role: everyone sees who the resident is (name, masked ID,
  sex, age) and their family-doctor contract and team; referrals and today's appointment only
  the roles that register, treat or route patients, not the pharmacy.
- A resident gets their own dynamic code, and those of the residents they are registered to care
  for (family codes); cards are issued, revoked and printed for a resident by
  the resident themself or by the staff of an institution the resident concerns.
- An institution's scan log is read by its institution admin.
- Signing keys are managed by a system admin (or the operator's management command).
"""

from __future__ import annotations

from healthnet.models import Resident, User, UserRole
from healthnet.permissions import has_permission, is_institution_staff


def can_scan_healthcode(user: User) -> bool:
    return (
        is_institution_staff(user)
        and user.institution_id is not None
        and has_permission(user, "healthcode.scan")
    )


def can_see_scan_contract(user: User) -> bool:
    return can_scan_healthcode(user) and has_permission(user, "healthcode.scan_contract")


def can_see_scan_referrals(user: User) -> bool:
    return can_scan_healthcode(user) and has_permission(user, "healthcode.scan_referrals")


def can_view_own_healthcode(user: User) -> bool:
    return (
        has_permission(user, "healthcode.view_own")
        and user.role == UserRole.RESIDENT
        and user.resident_id is not None
    )


def can_view_family_healthcodes(user: User) -> bool:
    """The role part of showing a family code (亲属码); which wards is the guardianship's."""
    return (
        has_permission(user, "healthcode.view_family")
        and user.role == UserRole.RESIDENT
        and user.resident_id is not None
    )


def can_manage_healthcards(user: User) -> bool:
    """The role part of managing cards, asked before the resident is looked up (so that a role
    that may manage none learns nothing of who exists)."""
    return has_permission(user, "healthcard.manage")


def can_manage_healthcard(user: User, resident: Resident, *, related_to_institution: bool) -> bool:
    """Issue or revoke a resident's card: the resident, or desk staff of a related institution."""
    if not can_manage_healthcards(user):
        return False
    if user.role == UserRole.RESIDENT:
        return user.resident_id == resident.pk
    return is_institution_staff(user) and related_to_institution


def can_print_static_healthcodes(user: User) -> bool:
    """The role part of printing a card: made at a desk, never by the resident's own login."""
    return is_institution_staff(user) and has_permission(user, "healthcode.print_static")


def can_print_static_healthcode(
    user: User, resident: Resident, *, related_to_institution: bool
) -> bool:
    return can_print_static_healthcodes(user) and related_to_institution


def can_view_scan_log(user: User) -> bool:
    """The institution's scan log (who scanned what, refusals and their reasons): its admin."""
    return is_institution_staff(user) and has_permission(user, "healthcode.scan_log")


def can_manage_healthcode_keys(user: User) -> bool:
    return has_permission(user, "healthcode.keys_manage")
