"""Family-doctor signing (docs/design.md §5): teams, service packages, contracts, follow-ups.

The contract state machine is one table, `signing.lifecycle.CONTRACT_LIFECYCLE`; its statuses
(`ContractStatus`) and the ones that hold a place in a team (`ACTIVE_STATUSES`: active,
renewal_due; a resident has at most one contract in them, a partial unique constraint, not only a
check) come from there. The rules on contracts (eligibility, capacity, consent, terms) are pure
checks in `signing.rules`; the numbers they use are the constants below.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from healthnet.models import Institution, KeyPopulation, Practitioner, Resident

# The statuses belong to the lifecycle table; `signing.models.ContractStatus` stays importable.
from signing.lifecycle import ACTIVE_STATUSES, ContractStatus

DEFAULT_TEAM_CAPACITY = 2500
# A team at or above this share of its capacity is warned when signing; at 100% it is refused.
CAPACITY_WARNING_RATIO = 0.95
TERM_YEARS = 1
RENEWAL_NOTICE_DAYS = 30  # active → renewal_due this many days before the end date
RENEWAL_GRACE_DAYS = 30  # renewal_due → expired this many days after the end date
# A follow-up recorded within this many days after its due date counts as done on time (履约).
FOLLOWUP_ON_TIME_DAYS = 14
ADULT_AGE = 18


# --- teams -------------------------------------------------------------------------------------


class FamilyDoctorTeam(models.Model):
    """家庭医生团队, based at a primary-care institution (the service checks the tier)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="family_doctor_teams"
    )
    lead = models.ForeignKey(
        Practitioner, null=True, blank=True, on_delete=models.PROTECT, related_name="led_teams"
    )
    capacity = models.PositiveIntegerField(default=DEFAULT_TEAM_CAPACITY)
    # The communities (社区/嘎查) the team serves, by name.
    service_area = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(capacity__gt=0), name="team_capacity_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class TeamMemberRole(models.TextChoices):
    GP = "gp", _("全科医生")
    NURSE = "nurse", _("护士")
    PUBLIC_HEALTH = "public_health", _("公卫医生")
    SPECIALIST = "specialist", _("上级医院专科医生")


class TeamMember(models.Model):
    team = models.ForeignKey(FamilyDoctorTeam, on_delete=models.CASCADE, related_name="members")
    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.PROTECT, related_name="team_memberships"
    )
    role = models.CharField(max_length=16, choices=TeamMemberRole.choices)
    # For a specialist: the higher-tier hospital they come from.
    home_institution = models.ForeignKey(
        Institution, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["team_id", "role", "id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "practitioner"], name="team_member_unique"),
        ]
        indexes = [models.Index(fields=["practitioner", "active"])]


# --- service packages --------------------------------------------------------------------------


class PackageKind(models.TextChoices):
    BASIC = "basic", _("基础包")
    PERSONALISED = "personalised", _("个性化包")


class ServicePackage(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    name_en = models.CharField(max_length=150, blank=True)
    kind = models.CharField(max_length=16, choices=PackageKind.choices)
    # The key population a personalised package is offered to; empty for the basic package.
    eligible_population = models.CharField(max_length=24, choices=KeyPopulation.choices, blank=True)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="basic", eligible_population="")
                | Q(kind="personalised") & ~Q(eligible_population=""),
                name="package_population_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def price_fen(self) -> int:
        """The yearly price: each item's price times its yearly frequency (needs items loaded)."""
        return sum(item.price_fen * item.times_per_year for item in self.items.all())


class ServiceItem(models.Model):
    package = models.ForeignKey(ServicePackage, on_delete=models.CASCADE, related_name="items")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=100)
    times_per_year = models.PositiveSmallIntegerField()
    price_fen = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["package_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["package", "code"], name="service_item_code_unique"),
            models.CheckConstraint(
                condition=Q(times_per_year__gte=1, times_per_year__lte=52),
                name="service_item_frequency_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


# --- contracts ---------------------------------------------------------------------------------


class TerminationReason(models.TextChoices):
    RESIDENT_REQUEST = "resident_request", _("居民申请解约")
    MOVED_AWAY = "moved_away", _("迁出服务区域")
    DIED = "died", _("死亡")
    TEAM_DISSOLVED = "team_dissolved", _("团队撤销")


class Signatory(models.TextChoices):
    RESIDENT = "resident", _("居民本人")
    GUARDIAN = "guardian", _("监护人")


class SignatureMethod(models.TextChoices):
    IN_PERSON = "in_person", _("现场签署")
    E_SIGNATURE = "e_signature", _("电子签名")
    GUARDIAN = "guardian", _("监护人代签")


class OfferBasis(models.TextChoices):
    """What tied the resident to the team's institution when a contract was offered (issue 9):
    an existing relation (registered there, visited, referred, signed), or the resident's ID
    number read at the institution's desk from their card (身份证现场核验)."""

    RELATED = "related", _("已有登记、就诊、转诊或签约关系")
    DESK_IDENTIFICATION = "desk_identification", _("窗口现场核验身份证")


class ContractSource(models.TextChoices):
    SERVICE = "service", _("在线签约")
    IMPORT = "import", _("批量导入")
    DEMO = "demo", _("演示数据")


class Contract(models.Model):
    """签约: one resident with one team for a one-year term, with the consent record."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="contracts")
    team = models.ForeignKey(FamilyDoctorTeam, on_delete=models.PROTECT, related_name="contracts")
    packages = models.ManyToManyField(ServicePackage, related_name="contracts")
    start_date = models.DateField()
    end_date = models.DateField()
    status = models.CharField(
        max_length=20, choices=ContractStatus.choices, default=ContractStatus.PENDING_SIGNATURE
    )
    terminated_reason = models.CharField(
        max_length=20, choices=TerminationReason.choices, blank=True
    )
    terminated_note = models.CharField(max_length=200, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    # Consent (知情同意): who signed, how, when, and the hash of the agreed terms.
    signed_by = models.CharField(max_length=10, choices=Signatory.choices, blank=True)
    signature_method = models.CharField(max_length=12, choices=SignatureMethod.choices, blank=True)
    guardian_name = models.CharField(max_length=50, blank=True)
    guardian_relationship = models.CharField(max_length=20, blank=True)
    guardian_national_id_hash = models.CharField(max_length=64, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    terms_hash = models.CharField(max_length=64, blank=True)
    # For an offer made by a user: the tie it rested on ("" for the system, imports, demo data).
    offer_basis = models.CharField(max_length=24, choices=OfferBasis.choices, blank=True)
    previous_contract = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_contract"
    )
    source = models.CharField(
        max_length=8, choices=ContractSource.choices, default=ContractSource.SERVICE
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["resident"],
                condition=Q(status__in=list(ACTIVE_STATUSES)),
                name="contract_one_active_per_resident",
            ),
            models.CheckConstraint(
                condition=Q(end_date__gt=models.F("start_date")), name="contract_term_ordered"
            ),
            models.CheckConstraint(
                condition=~Q(status="terminated") | ~Q(terminated_reason=""),
                name="contract_terminated_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(status="pending_signature")
                | Q(status="terminated")
                | ~Q(terms_hash=""),
                name="contract_signed_has_terms_hash",
            ),
        ]
        indexes = [
            models.Index(fields=["team", "status"]),
            models.Index(fields=["status", "end_date"]),
            models.Index(fields=["resident", "start_date"]),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class ContractEvent(models.Model):
    """One line of a contract's dated status timeline (docs/design.md §5, §7), as ReferralEvent is
    a referral's: the offer or creation (`from_status` ""), then every move of the lifecycle table,
    written in the same transaction as the move by the one function every status change goes
    through (signing.services.common.move / contract_event_record; the periodic jobs, the import
    and the demo data too). "Was it active at the end of March" is read here
    (signing.selectors.contracts_active_on), never guessed from the dates."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    # A lifecycle action (sign, renew, …, expire), or how the contract began: offer (pending
    # signature), renewal_of / switch_of (a successor starts active), import, demo, backfill.
    action = models.CharField(max_length=24)
    from_status = models.CharField(max_length=20, choices=ContractStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=ContractStatus.choices)
    reason = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_status=models.F("to_status")), name="contract_event_moves"
            ),
        ]
        indexes = [models.Index(fields=["contract", "at"], name="contract_event_timeline")]

    def __str__(self) -> str:
        return f"{self.contract_id}: {self.from_status or '-'} → {self.to_status} at {self.at}"


class FollowUpStatus(models.TextChoices):
    PENDING = "pending", _("待随访")
    DONE = "done", _("已完成")
    CANCELLED = "cancelled", _("已取消")


class FollowUp(models.Model):
    """随访 / service task generated from a package item on activation."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="follow_ups")
    item = models.ForeignKey(ServiceItem, on_delete=models.PROTECT, related_name="follow_ups")
    due_date = models.DateField()
    status = models.CharField(
        max_length=10, choices=FollowUpStatus.choices, default=FollowUpStatus.PENDING
    )
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when done: within FOLLOWUP_ON_TIME_DAYS of the due date (the 履约率 numerator).
    done_on_time = models.BooleanField(null=True, blank=True)
    outcome = models.TextField(blank=True)

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="done", done_at__isnull=False, done_on_time__isnull=False)
                | ~Q(status="done") & Q(done_at__isnull=True),
                name="followup_done_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["contract", "due_date"]),
            models.Index(fields=["status", "due_date"]),
        ]


# --- import jobs -------------------------------------------------------------------------------


class ImportJobStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("导入中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class ContractImportJob(models.Model):
    """One upload of existing contracts, imported by a Celery task (signing.tasks): its file
    while it waits, its progress while it runs, its counts, the first row errors and the
    per-row error report (an XLSX in the `imports` storage) when it is done."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The uploader's institution (none for a system admin): its admins follow the job too.
    institution = models.ForeignKey(
        Institution, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    filename = models.CharField(max_length=200)
    file_size = models.PositiveBigIntegerField()
    upload = models.CharField(max_length=255, blank=True)  # storage name; "" once imported
    status = models.CharField(
        max_length=8, choices=ImportJobStatus.choices, default=ImportJobStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)  # an estimate; None: unknown
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    follow_ups = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors_preview = models.JSONField(default=list, blank=True)  # the first row errors
    report = models.CharField(max_length=255, blank=True)  # storage name of the error report
    report_expired = models.BooleanField(default=False)
    failure_code = models.CharField(max_length=40, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Moved on every chunk: a running job whose heartbeat stopped lost its worker.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["institution", "created_at"]),
            models.Index(fields=["created_by", "created_at"]),
            models.Index(fields=["status", "updated_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(failure_code=""),
                name="import_job_failure_has_code",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (ImportJobStatus.DONE, ImportJobStatus.FAILED)

    @property
    def progress(self) -> float | None:
        """Rows read ÷ the estimated rows (1 when finished; None while the total is unknown)."""
        if self.finished:
            return 1.0
        if not self.rows_total:
            return None
        return min(self.rows_done / self.rows_total, 1.0)
