"""QR health codes (docs/design.md §6): the signing keys, the residents' cards, and the scan log.

Nothing here holds a code's text: a code is signed on demand from the card's random `sub` and
the active key, shown, and forgotten. The scan log records who scanned what for which purpose
and the outcome, never the code itself.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from healthcodes.codec import KeyStatus

# The statuses are the offline codec's (what each means is documented there); the table adds
# their names in the interface.
KEY_STATUS_LABELS = {
    KeyStatus.NEXT: _("待启用"),
    KeyStatus.ACTIVE: _("使用中"),
    KeyStatus.RETIRED: _("已退役"),
    KeyStatus.COMPROMISED: _("已泄露"),
}


class HealthCodeKey(models.Model):
    """An ES256 signing key. `not_before`..`not_after` is the window in which it may sign; the
    private key is encrypted at rest (healthnet.encryption, context healthcode.private_key) and
    erased once the key retires."""

    kid = models.CharField(max_length=32, unique=True)
    iss = models.CharField(max_length=64)
    status = models.CharField(
        max_length=12, choices=[(status.value, KEY_STATUS_LABELS[status]) for status in KeyStatus]
    )
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    public_key_pem = models.TextField()
    private_key_encrypted = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["not_before", "kid"]
        constraints = [
            models.UniqueConstraint(
                fields=["iss"], condition=Q(status="active"), name="healthcodekey_one_active"
            ),
            models.UniqueConstraint(
                fields=["iss"], condition=Q(status="next"), name="healthcodekey_one_next"
            ),
            models.CheckConstraint(
                condition=Q(not_after__gt=models.F("not_before")),
                name="healthcodekey_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[status.value for status in KeyStatus]),
                name="healthcodekey_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({self.status})"


class HealthCard(models.Model):
    """A resident's code identity. `sub` is random (secrets), never derived from the resident;
    revoking a card (lost phone) keeps the row with `revoked_at` and issues a new card."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    resident = models.ForeignKey(
        "healthnet.Resident", on_delete=models.PROTECT, related_name="health_cards"
    )
    sub = models.CharField(max_length=32, unique=True)
    issued_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["resident"],
                condition=Q(revoked_at__isnull=True),
                name="healthcard_one_current_per_resident",
            ),
        ]

    def __str__(self) -> str:
        return f"card {self.public_id}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class ScanPurpose(models.TextChoices):
    REGISTRATION = "registration", _("挂号")
    CONSULTATION = "consultation", _("就诊")
    DISPENSING = "dispensing", _("取药")
    HEALTH_MANAGEMENT = "health_management", _("健康管理")


class ScanResult(models.TextChoices):
    ACCEPTED = "accepted", _("通过")
    REFUSED = "refused", _("拒绝")


class ScanEvent(models.Model):
    """One scan, accepted or refused (refusals are audit, not data). Never the code's text."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    at = models.DateTimeField(db_index=True)
    scanned_by = models.ForeignKey(
        "healthnet.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    institution = models.ForeignKey(
        "healthnet.Institution", on_delete=models.PROTECT, related_name="scan_events"
    )
    device_id = models.CharField(max_length=64, blank=True)
    purpose = models.CharField(max_length=20, choices=ScanPurpose.choices)
    id_checked = models.BooleanField(default=False)
    result = models.CharField(max_length=8, choices=ScanResult.choices)
    reason = models.CharField(max_length=32, blank=True)
    code_type = models.CharField(max_length=8, blank=True)
    kid = models.CharField(max_length=32, blank=True)
    card = models.ForeignKey(
        HealthCard, null=True, blank=True, on_delete=models.PROTECT, related_name="scan_events"
    )
    resident = models.ForeignKey(
        "healthnet.Resident",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="scan_events",
    )
    encounter = models.ForeignKey(
        "healthnet.Encounter", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A family code (亲属码): the guardian whose phone showed the ward's code (FamilyCodeIssue).
    presented_by = models.ForeignKey(
        "healthnet.Resident", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["institution", "at"]),
            models.Index(fields=["resident", "at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(result="accepted", reason="") | (Q(result="refused") & ~Q(reason="")),
                name="scanevent_reason_iff_refused",
            ),
        ]


class FamilyCodeIssue(models.Model):
    """A dynamic code of a ward's card shown on a guardian's phone (亲属码): who was shown which
    code (by its random `cti`, never its text) and when. The scan reads it to record who presented
    the code; the rows are also the audit of family codes shown."""

    cti = models.CharField(max_length=64, unique=True)
    card = models.ForeignKey(HealthCard, on_delete=models.PROTECT, related_name="family_codes")
    presented_by = models.ForeignKey(
        "healthnet.Resident", on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
