"""Residents' own access: the one-time codes of phone sign-in (healthnet/phone_signin.py) and
guardianships (a resident cares for another and may show their code, 亲属码). Part of
healthnet.models (imported there); kept apart so that module stays readable.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from healthnet.models import Institution, Resident, User


class OneTimeCode(models.Model):
    """A sign-in code sent to a mobile number (healthnet/phone_signin.py). Only keyed hashes of
    the number and of the code are stored; it lives a few minutes and allows a few tries."""

    phone_hash = models.CharField(max_length=64)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["phone_hash", "-created_at"], name="onetimecode_phone")]


class GuardianRelationship(models.TextChoices):
    """What the guardian is to the resident they care for."""

    PARENT = "parent", _("父母")
    CHILD = "child", _("子女")
    SPOUSE = "spouse", _("配偶")
    RELATIVE = "relative", _("其他亲属")
    LEGAL_GUARDIAN = "legal_guardian", _("法定监护人")


class Guardianship(models.Model):
    """A resident registered at a desk as caring for another (a child, an elder): the guardian
    may show the ward's health code (亲属码). Revoked, never deleted (audit)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    guardian = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="wards_of")
    ward = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="guardianships")
    relationship = models.CharField(max_length=16, choices=GuardianRelationship.choices)
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="+")
    registered_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    registered_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["guardian", "ward"],
                condition=Q(revoked_at__isnull=True),
                name="guardianship_one_current",
            ),
            models.CheckConstraint(
                condition=~Q(guardian=models.F("ward")), name="guardianship_not_self"
            ),
        ]
