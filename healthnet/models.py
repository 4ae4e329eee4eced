"""The network (docs/design.md §2–3): institutions, departments, alliances, practitioners, residents,
encounters; staff users and their API tokens; the audit trail and the outbox."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

# --- the network -------------------------------------------------------------------------------


class Tier(models.TextChoices):
    TERTIARY = "tertiary", _("三级综合医院")
    SPECIALIST = "specialist", _("专科医院")
    DISTRICT = "district", _("区级医院")
    PRIMARY = "primary", _("基层医疗机构")


# The one place that orders tiers. Referrals go UP to a higher level and DOWN to a lower one.
# The city's general and specialist hospitals share the top level: a referral between them is
# lateral, neither up nor down (docs/glossary.md).
TIER_LEVEL: dict[str, int] = {
    Tier.TERTIARY: 3,
    Tier.SPECIALIST: 3,
    Tier.DISTRICT: 2,
    Tier.PRIMARY: 1,
}


def is_higher_tier(a: str, b: str) -> bool:
    """True when tier `a` is above tier `b` in the referral order."""
    return TIER_LEVEL[a] > TIER_LEVEL[b]


class District(models.Model):
    """A district of the city (区/县). Data, not code: loaded with the rest of the network from its
    data file (healthnet/network_loader.py, docs/network-data.md), so another city brings its own.

    Institutions, alliances and residents refer to a district by its code: their `district`
    column holds the code itself (a foreign key to `code`), so `district_id` is the code and bulk
    writers write it directly. A district that leaves the file is kept (rows refer to it) but
    marked inactive: no new resident is registered in it."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=50)
    name_en = models.CharField(max_length=100, blank=True)
    # Approximate residents, as the file states them; the demo generator spreads residents by it.
    population = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


def _district_key(**options: Any) -> models.ForeignKey:
    """A reference to a district by code, in a column named `district` (see District)."""
    return models.ForeignKey(
        District, to_field="code", db_column="district", on_delete=models.PROTECT, **options
    )


class Institution(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    name_en = models.CharField(max_length=150, blank=True)
    tier = models.CharField(max_length=16, choices=Tier.choices)
    category = models.CharField(max_length=40)
    grade = models.CharField(max_length=20, blank=True)
    district = _district_key(related_name="institutions")
    beds = models.PositiveIntegerField(default=0)
    # The number residents call (我的签约 shows the team's institution's); from the network file.
    phone = models.CharField(max_length=30, blank=True)
    is_sample_name = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["tier", "district"])]

    def __str__(self) -> str:
        return self.name

    @property
    def tier_level(self) -> int:
        return TIER_LEVEL[self.tier]


class Department(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="departments"
    )
    code = models.SlugField(max_length=32)
    name = models.CharField(max_length=100)
    specialty = models.CharField(max_length=40)
    accepts_referrals = models.BooleanField(default=True)
    referral_slots_per_day = models.PositiveIntegerField(default=0)
    head = models.ForeignKey(
        "Practitioner", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["institution_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "code"], name="department_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.institution.name} {self.name}"


class AllianceKind(models.TextChoices):
    MEDICAL_GROUP = "medical_group", _("医疗集团")
    MEDICAL_COMMUNITY = "medical_community", _("医共体")


class Alliance(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=24, choices=AllianceKind.choices)
    # A medical community serves one district; a medical group none.
    district = _district_key(null=True, blank=True, related_name="alliances")
    institutions: models.ManyToManyField[Institution, AllianceMembership] = models.ManyToManyField(
        Institution, through="AllianceMembership", related_name="alliances"
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class MembershipRole(models.TextChoices):
    LEAD = "lead", _("牵头单位")
    MEMBER = "member", _("成员单位")


class AllianceMembership(models.Model):
    alliance = models.ForeignKey(Alliance, on_delete=models.CASCADE, related_name="memberships")
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="alliance_memberships"
    )
    role = models.CharField(max_length=8, choices=MembershipRole.choices)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["alliance_id", "role", "institution_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["alliance", "institution", "start_date"], name="membership_unique_start"
            ),
            models.UniqueConstraint(
                fields=["alliance"],
                condition=Q(role="lead", end_date__isnull=True),
                name="membership_one_current_lead",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gt=models.F("start_date")),
                name="membership_period_ordered",
            ),
        ]


# --- people ------------------------------------------------------------------------------------


class UserRole(models.TextChoices):
    """The one list of roles, of logins and of practitioners at an institution alike."""

    DOCTOR = "doctor", _("医生")
    NURSE = "nurse", _("护士")
    PUBLIC_HEALTH = "public_health", _("公卫医生")
    REFERRAL_COORDINATOR = "referral_coordinator", _("转诊办")
    PHARMACIST = "pharmacist", _("药师")
    CLERK = "clerk", _("挂号收费员")
    INSTITUTION_ADMIN = "institution_admin", _("机构管理员")
    BUREAU = "bureau", _("卫健委")
    RESIDENT = "resident", _("居民")
    SYSTEM_ADMIN = "system_admin", _("系统管理员")


# The staff roles: a login with one of them works for an institution (User's constraint), and a
# practitioner's role at an institution (PractitionerRole) is one of them.
INSTITUTION_SCOPED_ROLES = frozenset(
    {
        UserRole.DOCTOR,
        UserRole.NURSE,
        UserRole.PUBLIC_HEALTH,
        UserRole.REFERRAL_COORDINATOR,
        UserRole.PHARMACIST,
        UserRole.CLERK,
        UserRole.INSTITUTION_ADMIN,
    }
)


class Sex(models.TextChoices):
    MALE = "male", _("男")
    FEMALE = "female", _("女")


class Practitioner(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=50)
    sex = models.CharField(max_length=8, choices=Sex.choices)
    title = models.CharField(max_length=40, blank=True)
    license_number = models.CharField(max_length=40, unique=True, null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class PractitionerRole(models.Model):
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="roles")
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="practitioner_roles"
    )
    department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="practitioner_roles",
    )
    role = models.CharField(
        max_length=24,
        choices=[(role.value, role.label) for role in UserRole if role in INSTITUTION_SCOPED_ROLES],
    )
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practitioner", "institution", "department", "role"],
                name="practitioner_role_unique",
            ),
        ]


class KeyPopulation(models.TextChoices):
    ELDERLY_65 = "elderly_65", _("65岁及以上老年人")
    HYPERTENSION = "hypertension", _("高血压")
    DIABETES = "diabetes", _("2型糖尿病")
    TUBERCULOSIS = "tuberculosis", _("肺结核")
    SEVERE_MENTAL_ILLNESS = "severe_mental_illness", _("严重精神障碍")
    PREGNANT = "pregnant", _("孕产妇")
    CHILD_0_6 = "child_0_6", _("0-6岁儿童")
    DISABLED = "disabled", _("残疾人")
    LOW_INCOME = "low_income", _("低收入人群")


# Populations derived from the birth date on the day asked; never stored (they change daily).
AGE_DERIVED_POPULATIONS = frozenset({KeyPopulation.ELDERLY_65, KeyPopulation.CHILD_0_6})


class Resident(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The national ID is stored only encrypted; exact lookup goes through a keyed HMAC
    # (healthnet/encryption.py), so no query ever needs to decrypt the table.
    national_id_encrypted = models.TextField()
    national_id_hash = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=50)
    sex = models.CharField(max_length=8, choices=Sex.choices)
    birth_date = models.DateField()
    phone = models.CharField(max_length=20, blank=True)
    address = models.CharField(max_length=200, blank=True)
    # Not indexed alone: the (district, birth_date) index below serves lookups by district.
    district = _district_key(db_index=False, related_name="residents")
    community = models.CharField(max_length=60, blank=True)
    registered_by = models.ForeignKey(
        Institution,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="registered_residents",
    )
    # The day of death (a death recorded by healthnet.services.resident_death_record, which also
    # ends the resident's registration and tags that day). None: alive, as far as is known.
    died_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["district", "birth_date"]),
            models.Index(fields=["registered_by"]),
            # Phone sign-in finds the record by its number (healthnet.selectors.residents_by_phone).
            models.Index(fields=["phone"], name="resident_phone"),
        ]

    def __str__(self) -> str:
        return self.name


class RegistrationEnd(models.TextChoices):
    """Why a registration period ended (docs/design.md §3: the register over time)."""

    MOVED_DISTRICT = "moved_district", _("迁往本市其他区")
    MOVED_AWAY = "moved_away", _("迁出本市")
    DIED = "died", _("死亡")


class ResidentRegistration(models.Model):
    """One period a resident is on the register of one district (docs/design.md §3, §7): from
    `valid_from` to `valid_to`, both days included; `valid_to` None while it lasts. A move to
    another district ends one period the day before the move and starts the next on the move's
    day; moving away or death ends the last one. A resident has at most one open period, and
    `Resident.district` is the district of that period (kept by the services)."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="registrations")
    district = _district_key(related_name="registrations")
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    ended_reason = models.CharField(max_length=16, choices=RegistrationEnd.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["resident_id", "valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["resident"],
                condition=Q(valid_to__isnull=True),
                name="registration_one_open_per_resident",
            ),
            models.UniqueConstraint(
                fields=["resident", "valid_from"], name="registration_unique_start"
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="registration_period_ordered",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True, ended_reason="")
                | Q(valid_to__isnull=False) & ~Q(ended_reason=""),
                name="registration_end_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["valid_from", "valid_to"], name="registration_period"),
            models.Index(fields=["district", "valid_from"], name="registration_district"),
        ]


class ResidentPopulationTag(models.Model):
    """A registry-based key-population tag (hypertension, TB, ...), valid from `valid_from` to
    `valid_to` (both days included). `valid_from` None: held since before the register kept
    dates (a tag recorded without a start, as all were before; it counts for every past day);
    `valid_to` None: still held. Age-based ones are derived. A resident has at most one open tag
    per population; an ended tag stays as history (the reports count each month's key
    populations as they were, healthnet.selectors.population_tags_on)."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="population_tags")
    population = models.CharField(max_length=24, choices=KeyPopulation.choices)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["resident", "population"],
                condition=Q(valid_to__isnull=True),
                name="resident_tag_one_open",
            ),
            models.UniqueConstraint(
                fields=["resident", "population", "valid_from"], name="resident_tag_unique_start"
            ),
            models.CheckConstraint(
                condition=~Q(population__in=["elderly_65", "child_0_6"]),
                name="resident_tag_not_age_derived",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="resident_tag_period_ordered",
            ),
        ]
        indexes = [models.Index(fields=["population", "resident"])]

    def valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or self.valid_to >= day
        )


class EncounterKind(models.TextChoices):
    OUTPATIENT = "outpatient", _("门诊")
    EMERGENCY = "emergency", _("急诊")
    INPATIENT = "inpatient", _("住院")


class Encounter(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="encounters")
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="encounters"
    )
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="encounters"
    )
    kind = models.CharField(max_length=12, choices=EncounterKind.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    # An inpatient stay (住院): admitted (the encounter is then of kind inpatient) and discharged
    # (出院, which also ends the encounter). Written by healthnet.services.inpatient_admit and
    # inpatient_discharge; the discharges are the denominator of the inpatient downward share.
    admitted_at = models.DateTimeField(null=True, blank=True)
    discharged_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=16, default="manual")

    class Meta:
        indexes = [
            models.Index(fields=["institution", "started_at"]),
            models.Index(fields=["resident", "started_at"]),
            models.Index(fields=["started_at"]),
            models.Index(fields=["discharged_at", "institution"], name="encounter_discharges"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="encounter_period_ordered",
            ),
            models.CheckConstraint(
                condition=Q(admitted_at__isnull=True)
                | Q(kind="inpatient", admitted_at__gte=models.F("started_at")),
                name="encounter_admission_is_inpatient",
            ),
            models.CheckConstraint(
                condition=Q(discharged_at__isnull=True)
                | Q(admitted_at__isnull=False, discharged_at__gte=models.F("admitted_at")),
                name="encounter_discharge_after_admission",
            ),
        ]


# --- staff users, tokens -----------------------------------------------------------------------


class HealthNetUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", UserRole.SYSTEM_ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A login. Its role says what it may do; its scope (institution, resident, or the whole
    bureau) says to which records. Team scope comes from the practitioner's team membership."""

    objects: ClassVar[HealthNetUserManager] = HealthNetUserManager()

    # Not a field: set by healthnet.receivers between pre_save and post_save of one save.
    _healthnet_password_changed: bool = False

    role = models.CharField(max_length=24, choices=UserRole.choices)
    institution = models.ForeignKey(
        Institution, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    practitioner = models.OneToOneField(
        Practitioner, null=True, blank=True, on_delete=models.PROTECT, related_name="user"
    )
    resident = models.OneToOneField(
        Resident, null=True, blank=True, on_delete=models.PROTECT, related_name="user"
    )
    # Raised to sign the login out everywhere else (a lost phone): part of the session hash.
    session_generation = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        role__in=sorted(r.value for r in INSTITUTION_SCOPED_ROLES),
                        institution__isnull=False,
                    )
                    | Q(role="resident", resident__isnull=False, institution__isnull=True)
                    | Q(role__in=["bureau", "system_admin"], institution__isnull=True)
                ),
                name="user_role_matches_scope",
            ),
        ]

    def get_session_auth_hash(self) -> str:
        """Django's hash of the password, plus the session generation once it was raised: a
        session made before `user_sessions_end_others` no longer matches (generation 0 keeps
        Django's own hash, so no session ends on upgrade)."""
        if not self.session_generation:
            return super().get_session_auth_hash()
        material = f"{self.password}|{self.session_generation}"
        return salted_hmac("healthnet.User.session", material, algorithm="sha256").hexdigest()


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 is stored; the text is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    name = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)


# --- audit -------------------------------------------------------------------------------------


class AuditEvent(models.Model):
    """Who read or changed which record, when, from where (docs/design.md §9). Append-only."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["actor", "at"]),
        ]


# --- outbox ------------------------------------------------------------------------------------


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")


class OutboxMessage(models.Model):
    """A side effect written in the same transaction as the change that caused it, delivered by
    healthnet/outbox.py. A broker outage delays it; nothing is lost; delivery happens once."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    channel = models.CharField(max_length=16)
    recipient = models.CharField(max_length=200)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    # Same key → one message: lets a periodic job enqueue idempotently.
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    status = models.CharField(
        max_length=8, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"])]


# Residents' own access (sign-in codes, guardianships) lives in its own module to keep this one
# readable; imported here so Django and the migrations see it as part of this app.
from healthnet.access_models import (  # noqa: E402, F401
    GuardianRelationship,
    Guardianship,
    OneTimeCode,
)
