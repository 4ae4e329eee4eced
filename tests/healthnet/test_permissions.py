"""The permission catalogue: what each role may do, written here from the design (docs/design.md
§9) independently of the catalogue, so a wrong entry fails; the helpers; one role enum."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from healthnet.models import PractitionerRole, UserRole
from healthnet.permissions import (
    PERMISSIONS,
    has_permission,
    permission,
    permissions_granted,
)
from tests.factories import UserFactory

# Every staff member: the directory, find a resident at the desk (and read those who concern
# the institution), scan a code and see the contract on it, the teams and their contracts.
STAFF_COMMON = {
    "network.read",
    "resident.lookup",
    "resident.read",
    "healthcode.scan",
    "healthcode.scan_contract",
    "team.list",
    "contract.list",
    "followup.list",
    "portal.workbench",
}
# Who registers, treats or routes patients (everyone but the pharmacy): register, record a
# move, a death or a key-population change, see referrals on a scan, issue cards and print
# static codes, register who may show a resident's code.
DESK = STAFF_COMMON | {
    "resident.register",
    "resident.update",
    "healthcode.scan_referrals",
    "healthcard.manage",
    "healthcode.print_static",
    "guardianship.manage",
    "referral.worklist",
}
# Least privilege (issue 9 item 8): the clinical views are for who treats or routes patients;
# the desk, the pharmacy and the admin read identity only.
CLINICAL = {"resident.read_clinical", "referral.read_clinical"}
# Admission and discharge (入出院登记): the ward's doctors and nurses, the admission desk (clerk)
# and the referral office; not public health, the pharmacy or the admin.
WARD = {"encounter.inpatient"}
EXPECTED = {
    UserRole.DOCTOR: DESK | CLINICAL | WARD | {"referral.create"},
    UserRole.NURSE: DESK | CLINICAL | WARD,
    UserRole.PUBLIC_HEALTH: DESK | CLINICAL,
    UserRole.REFERRAL_COORDINATOR: DESK
    | CLINICAL
    | WARD
    | {"referral.create", "report.read_institution"},
    UserRole.PHARMACIST: STAFF_COMMON,
    UserRole.CLERK: DESK | WARD,
    UserRole.INSTITUTION_ADMIN: DESK
    | {"healthcode.scan_log", "contract.import", "team.read_members", "report.read_institution"},
    UserRole.BUREAU: {"network.read", "team.list", "report.read"},
    UserRole.RESIDENT: {
        "network.read",
        "resident.read",
        "healthcode.view_own",
        "healthcode.view_family",  # the children and elders they are registered to care for
        "healthcard.manage",
        "contract.list",
        *CLINICAL,  # their own record and referrals
    },
    UserRole.SYSTEM_ADMIN: {
        "network.read",
        "healthcode.keys_manage",
        "team.list",
        "contract.import",
        "report.read",
        "system.manage",
    },
}


class _Login:
    """What has_permission reads of a user: its role and whether it is an active login."""

    def __init__(self, role: str, *, active: bool = True) -> None:
        self.role = role
        self.is_active = active
        self.is_authenticated = True


@pytest.mark.parametrize("role", list(UserRole))
def test_each_role_has_exactly_its_permissions(role):
    assert permissions_granted(_Login(role)) == EXPECTED[role]
    for entry in PERMISSIONS:
        assert has_permission(_Login(role), entry.name) is (entry.name in EXPECTED[role])


def test_an_inactive_or_anonymous_user_has_no_permission():
    from django.contrib.auth.models import AnonymousUser

    for user in (_Login(UserRole.SYSTEM_ADMIN, active=False), AnonymousUser(), None):
        assert permissions_granted(user) == frozenset()
        assert not has_permission(user, "network.read")


def test_an_unknown_permission_is_a_programming_error_not_a_denial():
    with pytest.raises(KeyError):
        has_permission(_Login(UserRole.DOCTOR), "resident.registr")


def test_every_entry_is_named_once_described_in_both_languages_and_names_real_roles():
    names = [entry.name for entry in PERMISSIONS]
    assert len(names) == len(set(names))
    assert set(names) == set().union(*EXPECTED.values())
    for entry in PERMISSIONS:
        assert entry.description.strip()
        assert entry.description_en.strip()
        assert entry.area in {
            "network",
            "residents",
            "healthcodes",
            "signing",
            "referrals",
            "portal",
            "reports",
            "system",
        }
        assert set(entry.default_roles) <= set(UserRole.values)
        assert permission(entry.name) is entry


def test_a_template_builds_a_menu_from_the_catalogue(db):
    clerk = UserFactory(role=UserRole.CLERK)
    menu = Template(
        "{% for p in catalogue %}{% if p.name in granted and p.area == 'residents' %}"
        "{{ p.name }}={{ p.description }}|{% endif %}{% endfor %}"
    ).render(Context({"catalogue": PERMISSIONS, "granted": permissions_granted(clerk)}))

    assert menu == (
        "resident.register=在本机构登记居民|"
        "resident.lookup=凭身份证号码查找居民（居民持证在场）|"
        "resident.read=查看居民档案：工作人员限与本机构相关的居民，居民限本人|"
        "resident.update=为相关居民登记迁移、死亡和重点人群变更（重点人群限可查看健康信息的角色）|"
        "encounter.inpatient=在本机构办理入院和出院|"
        "guardianship.manage=在窗口为相关居民登记或撤销照护人（亲属码）|"
    )


def test_the_apps_that_adopt_the_catalogue_after_merge_agree_with_it_today():
    """signing and referrals still state these role sets themselves; until they read the
    catalogue, this keeps the two from drifting apart."""
    from referrals.transitions import CREATING_ROLES
    from signing.permissions import AGGREGATE_READER_ROLES, IMPORT_ROLES

    assert set(permission("contract.import").default_roles) == IMPORT_ROLES
    assert set(permission("referral.create").default_roles) == CREATING_ROLES
    assert set(permission("team.list").default_roles) == AGGREGATE_READER_ROLES | {
        "doctor",
        "nurse",
        "public_health",
        "referral_coordinator",
        "pharmacist",
        "clerk",
        "institution_admin",
    }


def test_a_practitioners_role_is_one_of_the_staff_roles():
    choices = PractitionerRole._meta.get_field("role").choices
    assert choices == [
        ("doctor", "医生"),
        ("nurse", "护士"),
        ("public_health", "公卫医生"),
        ("referral_coordinator", "转诊办"),
        ("pharmacist", "药师"),
        ("clerk", "挂号收费员"),
        ("institution_admin", "机构管理员"),
    ]
