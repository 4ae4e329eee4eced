"""Role and scope rules (docs/design.md §9): the permission catalogue and the network's predicates.

The catalogue (PERMISSIONS) is the one list of what a role may do: each permission has a name, a
description in Chinese and English, and the roles that have it. It says *what* a role may do;
the predicates (`can_<verb>_<noun>`, here and in each app's permissions.py) add *to which
records*: staff act for their institution, a resident for themself, the bureau reads aggregates
only and never personal data, a system admin runs the system but reads no patient.

The catalogue is plain data, so the portal builds its menus from it: iterate PERMISSIONS (each
has .name, .area, .description, .description_en, .default_roles) and test names against
`permissions_granted(user)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from healthnet.models import INSTITUTION_SCOPED_ROLES, Resident, User, UserRole

# --- the catalogue -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Permission:
    name: str  # "<noun>.<verb>", e.g. "resident.register"
    area: str  # the app / menu section it belongs to
    description: str
    description_en: str
    default_roles: tuple[str, ...]  # in UserRole's order, for display


def _roles(*roles: str | frozenset[str]) -> tuple[str, ...]:
    wanted: set[str] = set()
    for role in roles:
        wanted.update({role} if isinstance(role, str) else role)
    return tuple(role.value for role in UserRole if role in wanted)


R = UserRole
_STAFF = INSTITUTION_SCOPED_ROLES
# Staff who register, treat or route patients: everyone but the pharmacy.
_DESK_AND_CLINICAL = _STAFF - {R.PHARMACIST}
# Staff who treat patients or route their referrals: they read the clinical view (health tags,
# contact details, referral reasons and findings). The desk, the pharmacy and the institution's
# admin read the identity view (least privilege, docs/security.md).
_CLINICIANS_AND_COORDINATORS = frozenset(
    {R.DOCTOR, R.NURSE, R.PUBLIC_HEALTH, R.REFERRAL_COORDINATOR}
)

PERMISSIONS: tuple[Permission, ...] = (
    # the network directory
    Permission(
        "network.read",
        "network",
        "查看医疗机构、科室和医联体目录",
        "read the directory of institutions, departments and alliances",
        _roles(*UserRole),
    ),
    # residents
    Permission(
        "resident.register",
        "residents",
        "在本机构登记居民",
        "register a resident at one's institution",
        _roles(_DESK_AND_CLINICAL),
    ),
    Permission(
        "resident.lookup",
        "residents",
        "凭身份证号码查找居民（居民持证在场）",
        "find a resident by the full ID number (the resident is at the desk)",
        _roles(_STAFF),
    ),
    Permission(
        "resident.read",
        "residents",
        "查看居民档案：工作人员限与本机构相关的居民，居民限本人",
        "read a resident's record: staff those who concern their institution, a resident their own",
        _roles(_STAFF, R.RESIDENT),
    ),
    Permission(
        "resident.update",
        "residents",
        "为相关居民登记迁移、死亡和重点人群变更（重点人群限可查看健康信息的角色）",
        "record a move, a death or a key-population change of a resident who concerns one's "
        "institution (key populations: only roles that read them, resident.read_clinical)",
        _roles(_DESK_AND_CLINICAL),
    ),
    Permission(
        "encounter.inpatient",
        "residents",
        "在本机构办理入院和出院",
        "admit and discharge inpatients at one's institution",
        _roles(R.DOCTOR, R.NURSE, R.CLERK, R.REFERRAL_COORDINATOR),
    ),
    Permission(
        "resident.read_clinical",
        "residents",
        "查看居民档案的健康与联系信息（重点人群、电话、住址）：临床人员与转诊办，居民限本人；"
        "其他角色只见身份信息",
        "read a resident's health and contact details (key populations, phone, address): "
        "clinicians and the referral office, a resident their own; other roles see identity only",
        _roles(_CLINICIANS_AND_COORDINATORS, R.RESIDENT),
    ),
    # guardianships (亲属码): who may show a resident's code besides the resident
    Permission(
        "guardianship.manage",
        "residents",
        "在窗口为相关居民登记或撤销照护人（亲属码）",
        "register or revoke a resident's guardian at the desk (family codes)",
        _roles(_DESK_AND_CLINICAL),
    ),
    # health codes
    Permission(
        "healthcode.scan",
        "healthcodes",
        "在本机构扫描居民健康码",
        "scan a resident's health code at one's institution",
        _roles(_STAFF),
    ),
    Permission(
        "healthcode.scan_contract",
        "healthcodes",
        "扫码时查看居民的家庭医生签约和团队",
        "see the resident's family-doctor contract and team on a scan",
        _roles(_STAFF),
    ),
    Permission(
        "healthcode.scan_referrals",
        "healthcodes",
        "扫码时查看居民的转诊和当日预约",
        "see the resident's open referrals and today's appointments on a scan",
        _roles(_DESK_AND_CLINICAL),
    ),
    Permission(
        "healthcode.view_own",
        "healthcodes",
        "查看本人的动态健康码",
        "show one's own live health code",
        _roles(R.RESIDENT),
    ),
    Permission(
        "healthcode.view_family",
        "healthcodes",
        "出示本人登记照护的亲属（儿童、老人）的健康码",
        "show the live code of a child or elder one is registered to care for",
        _roles(R.RESIDENT),
    ),
    Permission(
        "healthcard.manage",
        "healthcodes",
        "发放和注销健康卡：工作人员限相关居民，居民限本人",
        "issue and revoke a health card: staff for residents who concern their institution, "
        "a resident their own",
        _roles(_DESK_AND_CLINICAL, R.RESIDENT),
    ),
    Permission(
        "healthcode.print_static",
        "healthcodes",
        "在窗口为相关居民打印纸质健康码",
        "print a resident's static code at the desk",
        _roles(_DESK_AND_CLINICAL),
    ),
    Permission(
        "healthcode.scan_log",
        "healthcodes",
        "查看本机构的扫码记录",
        "read one's institution's scan log",
        _roles(R.INSTITUTION_ADMIN),
    ),
    Permission(
        "healthcode.keys_manage",
        "healthcodes",
        "管理健康码签名密钥",
        "manage the health-code signing keys",
        _roles(R.SYSTEM_ADMIN),
    ),
    # family-doctor signing (signing/permissions.py adopts these)
    Permission(
        "team.list",
        "signing",
        "查看家庭医生团队目录及其负荷（不含居民信息）",
        "list family-doctor teams and their load (no resident data)",
        _roles(_STAFF, R.BUREAU, R.SYSTEM_ADMIN),
    ),
    Permission(
        "contract.list",
        "signing",
        "查看签约：工作人员限本团队，居民限本人",
        "list contracts: staff their teams', a resident their own",
        _roles(_STAFF, R.RESIDENT),
    ),
    Permission(
        "followup.list",
        "signing",
        "查看本团队的随访任务",
        "list one's teams' follow-ups",
        _roles(_STAFF),
    ),
    Permission(
        "team.read_members",
        "signing",
        "查看本机构家庭医生团队的成员、负荷与履约率",
        "read the members, load and fulfilment rate of one's institution's family-doctor teams",
        _roles(R.INSTITUTION_ADMIN),
    ),
    Permission(
        "contract.import",
        "signing",
        "批量导入已有签约（CSV/XLSX）",
        "import existing contracts from CSV or XLSX",
        _roles(R.INSTITUTION_ADMIN, R.SYSTEM_ADMIN),
    ),
    Permission(
        "referral.worklist",
        "referrals",
        "查看本机构的转入、转出转诊工作列表",
        "work the referral worklists of one's institution (incoming and outgoing)",
        _roles(_DESK_AND_CLINICAL),
    ),
    # two-way referrals (referrals/permissions.py adopts this; who may move a referral is the
    # transition table's)
    Permission(
        "referral.read_clinical",
        "referrals",
        "查看转诊单的临床内容（转诊原因、指征、病情摘要、诊断与反馈）：临床人员与转诊办，居民限本人；"
        "其他角色只见身份与进度",
        "read a referral's clinical content (reason, criteria, summary, diagnosis, feedback): "
        "clinicians and the referral office, a resident their own; other roles see identity and "
        "progress only",
        _roles(_CLINICIANS_AND_COORDINATORS, R.RESIDENT),
    ),
    Permission(
        "referral.create",
        "referrals",
        "在本机构开具转诊单",
        "create a referral from one's institution",
        _roles(R.DOCTOR, R.REFERRAL_COORDINATOR),
    ),
)

# the portal, reports and the system
_EXTRA = (
    Permission(
        "portal.workbench",
        "portal",
        "使用本机构的工作台",
        "use one's institution's workbench",
        _roles(_STAFF),
    ),
    Permission(
        "report.read",
        "reports",
        "查看分级诊疗统计指标（仅汇总数据，不含个人信息）",
        "read the tiered-care indicators (aggregates only, no personal data)",
        _roles(R.BUREAU, R.SYSTEM_ADMIN),
    ),
    Permission(
        "report.read_institution",
        "reports",
        "查看本机构及其家庭医生团队的分级诊疗指标，并打开指标背后的转诊、签约或随访名单（名单仍按本人权限）",
        "read one's institution's and its teams' tiered-care indicators, and open the referral, "
        "contract or follow-up list behind a figure (the list as one's role may read it)",
        _roles(R.REFERRAL_COORDINATOR, R.INSTITUTION_ADMIN),
    ),
    Permission(
        "system.manage",
        "system",
        "系统管理",
        "run the system (users, keys, jobs)",
        _roles(R.SYSTEM_ADMIN),
    ),
)
PERMISSIONS = PERMISSIONS + _EXTRA

PERMISSIONS_BY_NAME: dict[str, Permission] = {p.name: p for p in PERMISSIONS}


def permission(name: str) -> Permission:
    """The catalogue entry; an unknown name is a programming error (KeyError), never a denial."""
    return PERMISSIONS_BY_NAME[name]


def _is_active(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def has_permission(user: User | Any, name: str) -> bool:
    """Whether the user's role has the permission (an inactive or anonymous user has none). The
    role part only: the predicates below add the scope."""
    entry = permission(name)
    return _is_active(user) and user.role in entry.default_roles


def permissions_granted(user: User | Any) -> frozenset[str]:
    """The names of every permission the user's role has (for menus)."""
    if not _is_active(user):
        return frozenset()
    return frozenset(p.name for p in PERMISSIONS if user.role in p.default_roles)


# --- the network's predicates ------------------------------------------------------------------


def is_institution_staff(user: User) -> bool:
    return _is_active(user) and user.role in INSTITUTION_SCOPED_ROLES


def can_create_resident(user: User) -> bool:
    return is_institution_staff(user) and has_permission(user, "resident.register")


def can_update_residents(user: User) -> bool:
    """The role part of recording a move, a death or a key-population change (the resident must
    also concern the institution: healthnet.register)."""
    return is_institution_staff(user) and has_permission(user, "resident.update")


def can_record_inpatient(user: User) -> bool:
    """Admit and discharge (the encounter must be at the user's institution: healthnet.register)."""
    return is_institution_staff(user) and has_permission(user, "encounter.inpatient")


def can_lookup_resident(user: User) -> bool:
    """Exact lookup by the full ID number: the resident is at the desk with their ID card."""
    return is_institution_staff(user) and has_permission(user, "resident.lookup")


def can_read_residents(user: User) -> bool:
    """The role part of reading a resident: asked before looking the resident up, so that a role
    that may read none learns nothing of who exists (403 whatever the id)."""
    return has_permission(user, "resident.read")


def can_view_resident(user: User, resident: Resident, *, related_to_institution: bool) -> bool:
    """`related_to_institution`: the resident concerns the user's institution (selectors
    decide: registered there, a visit there, later a referral or contract)."""
    if not can_read_residents(user):
        return False
    if user.role == UserRole.RESIDENT:
        return user.resident_id == resident.pk
    return is_institution_staff(user) and related_to_institution


def can_set_key_populations(user: User) -> bool:
    """Write a resident's key-population tags (at registration or later): health data, so only
    who may read it back (the clinical view); a clerk registers and records moves without them."""
    return has_permission(user, "resident.read_clinical") and (
        has_permission(user, "resident.register") or has_permission(user, "resident.update")
    )


def can_read_resident_clinical(user: User) -> bool:
    """Which view of a resident the user reads (of one they may read at all: can_view_resident):
    the clinical one (health tags, phone, address), or the identity one."""
    return has_permission(user, "resident.read_clinical")


def can_read_network(user: User) -> bool:
    """The directory of institutions and alliances: any active login."""
    return has_permission(user, "network.read")


def can_manage_guardianships(user: User) -> bool:
    """The role part of registering or revoking a guardian: desk staff, asked before any lookup."""
    return is_institution_staff(user) and has_permission(user, "guardianship.manage")


def can_manage_guardianship(user: User, ward: Resident, *, related_to_institution: bool) -> bool:
    """Register or revoke a guardian of `ward`: desk staff of an institution the ward concerns
    (the guardian is at the desk with their ID card; the ward's code is what they will show)."""
    return can_manage_guardianships(user) and related_to_institution


def can_sign_in_by_phone(user: User) -> bool:
    """Phone sign-in (a one-time code) is for residents' own logins only: a staff login keeps
    its password (and the throttles of user_authenticate)."""
    return _is_active(user) and user.role == UserRole.RESIDENT and user.resident_id is not None


# --- the catalogue as a table (docs/security.md) -----------------------------------------------


def catalogue_markdown() -> str:
    """The catalogue as the Markdown table docs/security.md carries between its markers
    (tests/api/test_security_doc.py keeps the two equal): each permission, what it allows and
    the roles that have it."""
    lines = ["| permission | what it allows | roles |", "|---|---|---|"]
    for entry in PERMISSIONS:
        roles = ", ".join(entry.default_roles)
        lines.append(f"| `{entry.name}` | {entry.description_en} | {roles} |")
    return "\n".join(lines)
