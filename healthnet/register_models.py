"""The register over time (docs/design.md §3, §7): a resident's registration periods in a
district and the key-population tags with their validity. Part of healthnet.models (imported
there); kept apart so that module stays readable. Written by healthnet.register, read by
healthnet.selectors (residents_registered_on, population_tags_on).
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from healthnet.models import KeyPopulation, Resident, _district_key


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
