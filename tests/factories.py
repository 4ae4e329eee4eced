"""factory_boy factories. Residents go through the same encryption and hashing as the service."""

from __future__ import annotations

import datetime as dt

import factory
from django.conf import settings

from healthnet.models import (
    Alliance,
    AllianceKind,
    AllianceMembership,
    Department,
    District,
    Institution,
    Resident,
    Tier,
    User,
    UserRole,
)
from healthnet.national_id import encrypt_national_id, make_national_id, national_id_hash

__all__ = [
    "AllianceFactory",
    "DepartmentFactory",
    "DistrictFactory",
    "InstitutionFactory",
    "MembershipFactory",
    "ResidentFactory",
    "UserFactory",
    "national_id_for",
]


def national_id_for(
    n: int, *, birth_date: dt.date = dt.date(1980, 5, 17), sex: str = "male"
) -> str:
    """The n-th distinct valid ID number (n < 500 per birth date)."""
    return make_national_id(region_code="150300", birth_date=birth_date, sequence=n, sex=sex)


class DistrictFactory(factory.django.DjangoModelFactory):
    """A district by code, made once: `DistrictFactory(code="wuda")` twice is one row."""

    class Meta:
        model = District
        django_get_or_create = ("code",)

    code = "haibowan"
    name = factory.LazyAttribute(lambda o: f"{o.code}区")
    population = 100_000


class _DistrictByCode:
    """Lets a factory take `district="wuda"` (a code, as the column holds) as well as a District:
    the district is made on first use, as a loaded network file would have made it."""

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        if isinstance(kwargs.get("district"), str):
            kwargs["district"] = DistrictFactory(code=kwargs["district"])
        return kwargs


class InstitutionFactory(_DistrictByCode, factory.django.DjangoModelFactory):
    class Meta:
        model = Institution
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"inst-{n:03d}")
    name = factory.Sequence(lambda n: f"测试医院{n}")
    tier = Tier.PRIMARY
    category = "community_health_center"
    district = factory.SubFactory(DistrictFactory)
    beds = 20


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    institution = factory.SubFactory(InstitutionFactory)
    code = factory.Sequence(lambda n: f"dept-{n:03d}")
    name = factory.Sequence(lambda n: f"科室{n}")
    specialty = "internal_medicine"
    accepts_referrals = True
    referral_slots_per_day = 5


class AllianceFactory(_DistrictByCode, factory.django.DjangoModelFactory):
    class Meta:
        model = Alliance

    code = factory.Sequence(lambda n: f"alliance-{n}")
    name = factory.Sequence(lambda n: f"医联体{n}")
    kind = AllianceKind.MEDICAL_COMMUNITY


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AllianceMembership

    alliance = factory.SubFactory(AllianceFactory)
    institution = factory.SubFactory(InstitutionFactory)
    role = "member"
    start_date = dt.date(2020, 1, 1)


class ResidentFactory(_DistrictByCode, factory.django.DjangoModelFactory):
    class Meta:
        model = Resident
        exclude = ("national_id", "sequence")

    sequence = factory.Sequence(lambda n: n)
    birth_date = factory.LazyAttribute(
        lambda o: dt.date(1950, 1, 1) + dt.timedelta(days=(o.sequence // 400) * 37)
    )
    sex = "male"
    national_id = factory.LazyAttribute(
        lambda o: make_national_id(
            region_code="150300", birth_date=o.birth_date, sequence=o.sequence % 400, sex=o.sex
        )
    )
    national_id_encrypted = factory.LazyAttribute(lambda o: encrypt_national_id(o.national_id))
    national_id_hash = factory.LazyAttribute(lambda o: national_id_hash(o.national_id))
    name = factory.Sequence(lambda n: f"居民{n}")
    district = factory.SubFactory(DistrictFactory)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = UserRole.DOCTOR
    institution = factory.SubFactory(InstitutionFactory)
    password = factory.PostGenerationMethodCall("set_password", settings.DEMO_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()
