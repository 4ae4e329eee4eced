"""Practitioners and their roles: staff numbers per institution from its tier and beds, spread
over its departments, with a head for every department."""

from __future__ import annotations

import random
from collections.abc import Callable

from demo.network import InstitutionView, NetworkView
from demo.people import NameMaker
from healthnet.models import Department, Practitioner, PractitionerRole, UserRole

DOCTOR_TITLES = [("住院医师", 0.40), ("主治医师", 0.35), ("副主任医师", 0.17), ("主任医师", 0.08)]
NURSE_TITLES = [("护士", 0.35), ("护师", 0.35), ("主管护师", 0.25), ("副主任护师", 0.05)]
TITLES: dict[str, str] = {  # by role (a practitioner's role is its text)
    UserRole.PUBLIC_HEALTH: "公共卫生医师",
    UserRole.PHARMACIST: "药师",
    UserRole.REFERRAL_COORDINATOR: "",
    UserRole.CLERK: "",
    UserRole.INSTITUTION_ADMIN: "",
}
LICENSED = {UserRole.DOCTOR, UserRole.NURSE, UserRole.PUBLIC_HEALTH, UserRole.PHARMACIST}
PHARMACY_WORDS = ("pharmacy", "药剂", "药房")
PREVENTIVE_WORDS = ("preventive", "public-health", "public_health", "预防", "公共卫生", "公卫")
NO_NURSING_WORDS = ("laboratory", "检验", "imaging", "影像", "radiology", *PHARMACY_WORDS)
# Who heads a department: its first doctor, else its first public-health doctor, pharmacist, nurse.
HEAD_ORDER = [UserRole.DOCTOR, UserRole.PUBLIC_HEALTH, UserRole.PHARMACIST, UserRole.NURSE]


def staffing(institution: InstitutionView, rng: random.Random) -> dict[str, int]:
    """How many of each role an institution has. Hospitals: about one doctor per two beds and
    1.3 nurses per doctor (China's health statistics); primary institutions: 20–60 staff."""
    if institution.is_primary:
        total = max(20, min(60, 20 + institution.beds // 2 + int(rng.random() * 16)))
        return {
            UserRole.DOCTOR: round(total * 0.33),
            UserRole.NURSE: round(total * 0.28),
            UserRole.PUBLIC_HEALTH: round(total * 0.18),
            UserRole.PHARMACIST: max(1, round(total * 0.06)),
            UserRole.CLERK: max(2, round(total * 0.08)),
            UserRole.REFERRAL_COORDINATOR: 1 if total < 40 else 2,
            UserRole.INSTITUTION_ADMIN: 1,
        }
    beds = max(institution.beds, 20)
    doctors = max(10, round(beds * 0.5))
    return {
        UserRole.DOCTOR: doctors,
        UserRole.NURSE: round(doctors * 1.3),
        UserRole.PUBLIC_HEALTH: max(2, round(beds * 0.01)),
        UserRole.PHARMACIST: max(3, round(beds * 0.04)),
        UserRole.CLERK: max(4, round(beds * 0.05)),
        UserRole.REFERRAL_COORDINATOR: max(2, min(6, beds // 250)),
        UserRole.INSTITUTION_ADMIN: 2,
    }


def generate_staff(
    *, seed: int, network: NetworkView, progress: Callable[[int], None]
) -> dict[str, int]:
    """Staff every institution that has none yet (a second run adds nobody)."""
    rng = random.Random(f"{seed}:staff")  # noqa: S311 - reproducible demo data
    names = NameMaker(rng)
    staffed = set(PractitionerRole.objects.values_list("institution_id", flat=True).distinct())
    licenses = {
        number
        for number in Practitioner.objects.exclude(license_number=None).values_list(
            "license_number", flat=True
        )
        if number is not None  # (excluded already: this tells the type)
    }
    practitioners: list[Practitioner] = []
    # (index into practitioners, institution id, department id, role)
    assignments: list[tuple[int, int, int | None, str]] = []
    for institution in network.institutions:
        counts = staffing(institution, rng)  # drawn for every institution: stable for a seed
        progress(1)
        if institution.id in staffed:
            continue
        workplaces = _workplaces(institution)
        for role, number in counts.items():
            for k in range(number):
                sex = (
                    "female" if rng.random() < (0.9 if role == UserRole.NURSE else 0.5) else "male"
                )
                license_number = None
                if role in LICENSED:
                    license_number = _license(rng, licenses)
                practitioners.append(
                    Practitioner(
                        name=names.name(sex),
                        sex=sex,
                        title=_title(rng, role),
                        license_number=license_number,
                    )
                )
                places = workplaces.get(role)
                department_id = places[k % len(places)].id if places else None
                assignments.append((len(practitioners) - 1, institution.id, department_id, role))

    for start in range(0, len(practitioners), 2000):
        Practitioner.objects.bulk_create(practitioners[start : start + 2000])
    roles = [
        PractitionerRole(
            practitioner_id=practitioners[index].pk,
            institution_id=institution_id,
            department_id=department_id,
            role=role,
        )
        for index, institution_id, department_id, role in assignments
    ]
    PractitionerRole.objects.bulk_create(roles, batch_size=2000)
    heads = _appoint_heads(practitioners, assignments)
    return {
        "practitioners": len(practitioners),
        "practitioner_roles": len(roles),
        "department_heads": heads,
    }


def _workplaces(institution: InstitutionView) -> dict[str, list]:
    """The departments each role works in (roles not listed work for the whole institution)."""

    def matching(words: tuple[str, ...]) -> list:
        return [
            d
            for d in institution.departments
            if any(w in f"{d.code} {d.specialty} {d.name}".lower() for w in words)
        ]

    pharmacy = matching(PHARMACY_WORDS)
    not_nursed = matching(NO_NURSING_WORDS)
    clinical = [d for d in institution.departments if d not in pharmacy] or institution.departments
    return {
        UserRole.DOCTOR: clinical,
        UserRole.NURSE: [d for d in clinical if d not in not_nursed] or clinical,
        UserRole.PUBLIC_HEALTH: matching(PREVENTIVE_WORDS),
        UserRole.PHARMACIST: pharmacy,
    }


def _appoint_heads(
    practitioners: list[Practitioner], assignments: list[tuple[int, int, int | None, str]]
) -> int:
    """Each department without a head gets one from its own staff (HEAD_ORDER; the first listed
    of that role), promoted to a senior title where needed."""
    candidates: dict[int, dict[str, Practitioner]] = {}
    for index, _institution_id, department_id, role in assignments:
        if department_id is not None:
            candidates.setdefault(department_id, {}).setdefault(role, practitioners[index])
    departments = list(Department.objects.filter(id__in=candidates, head__isnull=True))
    promoted = []
    for department in departments:
        staff = candidates[department.id]
        head = next(staff[role] for role in HEAD_ORDER if role in staff)
        if head.title in ("住院医师", "主治医师"):
            head.title = "主任医师"
            promoted.append(head)
        department.head = head
    Practitioner.objects.bulk_update(promoted, ["title"], batch_size=500)
    Department.objects.bulk_update(departments, ["head"], batch_size=500)
    return len(departments)


def _title(rng: random.Random, role: str) -> str:
    if role in (UserRole.DOCTOR, UserRole.NURSE):
        table = DOCTOR_TITLES if role == UserRole.DOCTOR else NURSE_TITLES
        draw = rng.random()
        for title, share in table:
            draw -= share
            if draw < 0:
                return title
        return table[-1][0]
    return TITLES.get(role, "")


def _license(rng: random.Random, used: set[str]) -> str:
    """A 15-digit practising-certificate number (执业证书编码), unique."""
    while True:
        number = f"1{rng.randrange(10**14):014d}"
        if number not in used:
            used.add(number)
            return number
