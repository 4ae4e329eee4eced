"""Two-way referrals (双向转诊, docs/design.md §4): the referral, its timeline, and reserved slots.

The state machine itself lives in referrals/transitions.py (one table, with the states and their
facts); the database holds the rules that concurrent requests could otherwise break: one open
referral per resident × target department × direction (the table's open states), one
idempotency key per creator, and a day's slots never over-booked.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from healthnet.models import is_higher_tier
from referrals.transitions import OPEN_STATUSES, TERMINAL_STATUSES, ReferralStatus

__all__ = [
    "OPEN_STATUSES",
    "TERMINAL_STATUSES",
    "CareSetting",
    "DepartmentDaySlots",
    "Referral",
    "ReferralDirection",
    "ReferralEvent",
    "ReferralStatus",
    "ReferralUrgency",
    "RejectionReason",
]


class ReferralDirection(models.TextChoices):
    UP = "up", _("上转")
    DOWN = "down", _("下转")

    @classmethod
    def between_tiers(cls, from_tier: str, to_tier: str) -> ReferralDirection | None:
        """The one place direction is computed: up to a higher tier level, down to a lower
        one, None between institutions of the same level (a lateral referral)."""
        if is_higher_tier(to_tier, from_tier):
            return cls.UP
        if is_higher_tier(from_tier, to_tier):
            return cls.DOWN
        return None


class CareSetting(models.TextChoices):
    """Outpatient or inpatient (docs/design.md §4, §7). Upward: the care asked of the receiving
    hospital (an inpatient referral is admitted on arrival). Downward: the care the resident had
    at the referring hospital (an inpatient referral is a patient discharged down to primary care:
    the numerator of the inpatient downward share)."""

    OUTPATIENT = "outpatient", _("门诊")
    INPATIENT = "inpatient", _("住院")


class ReferralUrgency(models.TextChoices):
    ROUTINE = "routine", _("普通")
    URGENT = "urgent", _("加急")
    EMERGENCY = "emergency", _("急诊绿色通道")


class RejectionReason(models.TextChoices):
    NO_CAPACITY = "no_capacity", _("床位或号源不足")
    NOT_INDICATED = "not_indicated", _("不符合转诊指征")
    WRONG_DEPARTMENT = "wrong_department", _("科室不对口")
    INCOMPLETE_INFORMATION = "incomplete_information", _("资料不全")
    PATIENT_UNSTABLE = "patient_unstable", _("病情不稳定，不宜转运")
    OTHER = "other", _("其他")


class Referral(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    resident = models.ForeignKey(
        "healthnet.Resident", on_delete=models.PROTECT, related_name="referrals"
    )
    direction = models.CharField(max_length=4, choices=ReferralDirection.choices)
    from_institution = models.ForeignKey(
        "healthnet.Institution", on_delete=models.PROTECT, related_name="referrals_out"
    )
    from_department = models.ForeignKey(
        "healthnet.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referrals_out",
    )
    from_practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referrals_made",
    )
    to_institution = models.ForeignKey(
        "healthnet.Institution", on_delete=models.PROTECT, related_name="referrals_in"
    )
    to_department = models.ForeignKey(
        "healthnet.Department", on_delete=models.PROTECT, related_name="referrals_in"
    )
    urgency = models.CharField(max_length=10, choices=ReferralUrgency.choices)
    care_setting = models.CharField(
        max_length=10, choices=CareSetting.choices, default=CareSetting.OUTPATIENT
    )
    reason_code = models.CharField(max_length=40)
    criteria_codes = models.JSONField(default=list, blank=True)
    clinical_summary = models.TextField(blank=True)
    status = models.CharField(
        max_length=12, choices=ReferralStatus.choices, default=ReferralStatus.DRAFT
    )

    created_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    no_show_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    # Deadlines (settings.REFERRAL_DEADLINES). `due_at` is the deadline of the current step: the
    # worklists order by it and the escalation job compares it with the clock.
    decision_due_at = models.DateTimeField(null=True, blank=True)
    booking_due_at = models.DateTimeField(null=True, blank=True)
    feedback_due_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    overdue = models.BooleanField(default=False)
    escalated_at = models.DateTimeField(null=True, blank=True)

    rejection_reason = models.CharField(max_length=24, choices=RejectionReason.choices, blank=True)
    rejection_comment = models.TextField(blank=True)
    cancel_reason = models.TextField(blank=True)
    redirected_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="redirected_to"
    )
    # The downward referral opened when an upward one completes with "return to primary care".
    follow_on = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="follow_on_of"
    )
    # The appointment day; `appointment` is the reserved slot it took (none for the emergency
    # green channel, which does not wait for a reserved slot).
    appointment_date = models.DateField(null=True, blank=True)
    appointment = models.ForeignKey(
        "DepartmentDaySlots",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referrals",
    )
    reschedule_count = models.PositiveSmallIntegerField(default=0)
    # The visit the arrival opened at the receiving institution (healthnet.services.
    # encounter_create, via the scan or the arrive action); for an inpatient referral it is the
    # stay (admitted on arrival, discharged by healthnet.services.inpatient_discharge).
    encounter = models.OneToOneField(
        "healthnet.Encounter",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referral",
    )
    # For a downward referral: the family-doctor team's follow-up that answered it and closed its
    # loop (referrals.services.referral_close_loop_by_followup, from signing's
    # FOLLOWUP_RECORDED hook). One follow-up may answer more than one downward referral.
    closing_followup = models.ForeignKey(
        "signing.FollowUp",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="answered_referrals",
    )

    findings = models.TextField(blank=True)
    diagnosis = models.CharField(max_length=200, blank=True)
    feedback_summary = models.TextField(blank=True)
    recommendations = models.TextField(blank=True)
    return_to_primary_care = models.BooleanField(default=False)

    # Downward referral of a signed resident: the resident agreed (docs/design.md §4).
    resident_consent = models.BooleanField(default=False)
    consent_recorded_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referrals_created",
    )
    idempotency_key = models.CharField(max_length=100, blank=True)
    idempotency_fingerprint = models.CharField(max_length=64, blank=True)  # sha256 of the request

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["resident", "to_department", "direction"],
                condition=Q(status__in=OPEN_STATUSES),
                name="referral_one_open_per_target",
            ),
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="referral_idempotency_key_unique",
            ),
            models.CheckConstraint(
                condition=~Q(from_institution=F("to_institution")),
                name="referral_between_institutions",
            ),
            models.CheckConstraint(
                condition=Q(reschedule_count__lte=1), name="referral_reschedule_once"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in ReferralStatus]),
                name="referral_status_known",
            ),
            models.CheckConstraint(
                condition=Q(closing_followup__isnull=True) | Q(direction="down"),
                name="referral_followup_answers_downward",
            ),
        ]
        # The worklists: one institution's referrals in deadline order (ORDER BY due_at ASC
        # NULLS LAST, created_at DESC, id DESC), read from the index without a sort.
        indexes = [
            models.Index(
                fields=["to_institution", "due_at", "-created_at", "-id"],
                name="referral_incoming",
            ),
            models.Index(
                fields=["from_institution", "due_at", "-created_at", "-id"],
                name="referral_outgoing",
            ),
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["resident", "status"]),
            models.Index(fields=["submitted_at"]),
            models.Index(fields=["closed_at"]),
        ]

    def __str__(self) -> str:
        return f"referral {self.public_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ReferralEvent(models.Model):
    """One line of a referral's timeline: who moved it, when, from which state to which, why."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=24)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["referral", "at"])]


class DepartmentDaySlots(models.Model):
    """A department's reserved referral slots (预留号源) on one day. `capacity` is copied from
    Department.referral_slots_per_day when the day is first booked; `booked` never exceeds it
    (a check constraint, and the scheduling service updates it under a row lock)."""

    department = models.ForeignKey(
        "healthnet.Department", on_delete=models.PROTECT, related_name="referral_day_slots"
    )
    date = models.DateField()
    capacity = models.PositiveIntegerField()
    booked = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["department_id", "date"]
        constraints = [
            models.UniqueConstraint(fields=["department", "date"], name="day_slots_unique"),
            models.CheckConstraint(
                condition=Q(booked__lte=F("capacity")), name="day_slots_not_overbooked"
            ),
        ]

    @property
    def free(self) -> int:
        return self.capacity - self.booked
