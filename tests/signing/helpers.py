"""Helpers of the signing tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from healthnet.models import Practitioner, UserRole
from signing import services
from tests.factories import UserFactory, national_id_for

_practitioners = itertools.count(1)


def make_practitioner(name: str = "医生") -> Practitioner:
    n = next(_practitioners)
    return Practitioner.objects.create(
        name=f"{name}{n}", sex="female", license_number=f"LIC-{n:06d}"
    )


def make_team(institution, *, code: str, capacity: int = 2500, member_user: bool = True):
    """A team through the real service, its GP lead having a doctor login."""
    lead = make_practitioner("全科医生")
    team = services.team_create(
        actor=None,
        code=code,
        name=f"{code} 团队",
        institution=institution,
        lead=lead,
        capacity=capacity,
        service_area=["滨河社区"],
    )
    user = None
    if member_user:
        user = UserFactory(
            username=f"gp-{code}", role=UserRole.DOCTOR, institution=institution, practitioner=lead
        )
    return team, user


def years_ago(years: int, days: int = 0) -> dt.date:
    today = timezone.localdate()
    return today.replace(year=today.year - years) - dt.timedelta(days=days)


GUARDIAN_ID = national_id_for(7, birth_date=dt.date(1985, 3, 2))


def sign(contract, actor=None, **overrides):
    kwargs = {"signed_by": "resident", "method": "in_person"}
    kwargs.update(overrides)
    return services.contract_sign(actor=actor, contract=contract, **kwargs)


def signed_contract(resident, team, actor=None, packages=()):
    contract = services.contract_create(
        actor=actor, resident=resident, team=team, package_codes=list(packages)
    )
    return sign(contract, actor).contract


class SoftTimeLimitStorage:
    """An `imports` storage whose files run out of time: Celery's soft time limit (SIGUSR1 in
    the worker, raised as SoftTimeLimitExceeded wherever the task is) arrives while the import
    reads past `at` bytes on its second pass over the file (the first counts the rows). The
    outside world of an import job, not our code."""

    at = 0

    def __new__(cls, **options):
        from celery.exceptions import SoftTimeLimitExceeded
        from django.core.files.storage import FileSystemStorage

        limit_at = cls.at

        class _File:
            def __init__(self, handle):
                self.handle, self.passes = handle, 0

            def read(self, size=-1):
                if self.handle.tell() == 0:
                    self.passes += 1
                if self.passes > 1 and self.handle.tell() >= limit_at:
                    raise SoftTimeLimitExceeded()
                return self.handle.read(size)

            def __getattr__(self, name):
                return getattr(self.handle, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.handle.close()

        class _Storage(FileSystemStorage):
            def open(self, name, mode="rb"):
                handle = super().open(name, mode)
                return _File(handle) if "r" in mode else handle

        return _Storage(**options)
