"""Role and scope rules for the network's records (DESIGN §9). Pure predicates.

Scopes: institution staff act for their institution; a resident for themself; the bureau reads
aggregates only and never personal data; a system admin runs the system but reads no patient.
"""

from __future__ import annotations

from healthnet.models import INSTITUTION_SCOPED_ROLES, Resident, User, UserRole

# Who may register a resident or find one by ID number at the desk.
RESIDENT_REGISTERING_ROLES = frozenset(
    {
        UserRole.DOCTOR,
        UserRole.NURSE,
        UserRole.PUBLIC_HEALTH,
        UserRole.REFERRAL_COORDINATOR,
        UserRole.CLERK,
        UserRole.INSTITUTION_ADMIN,
    }
)
RESIDENT_LOOKUP_ROLES = RESIDENT_REGISTERING_ROLES | {UserRole.PHARMACIST}


def is_institution_staff(user: User) -> bool:
    return user.is_authenticated and user.role in INSTITUTION_SCOPED_ROLES and user.is_active


def can_create_resident(user: User) -> bool:
    return is_institution_staff(user) and user.role in RESIDENT_REGISTERING_ROLES


def can_lookup_resident(user: User) -> bool:
    """Exact lookup by the full ID number: the resident is at the desk with their ID card."""
    return is_institution_staff(user) and user.role in RESIDENT_LOOKUP_ROLES


def can_view_resident(user: User, resident: Resident, *, related_to_institution: bool) -> bool:
    """`related_to_institution`: the resident concerns the user's institution (selectors
    decide: registered there, a visit there, later a referral or contract)."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.role == UserRole.RESIDENT:
        return user.resident_id == resident.pk
    if user.role in INSTITUTION_SCOPED_ROLES:
        return related_to_institution
    return False


def can_read_network(user: User) -> bool:
    """The directory of institutions and alliances: any active login."""
    return user.is_authenticated and user.is_active
