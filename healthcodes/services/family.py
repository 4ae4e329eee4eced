"""Family codes 亲属码 (docs/design.md §1, §6): a guardian's phone shows the live code of a child
or an elder they are registered to care for (healthnet Guardianship, recorded at a desk).

The code is the ward's own (their card, their `sub`): a scan finds the ward, as with any code.
What it adds is who showed it: each code shown to a guardian is the guardian's own (its own
`cti`, never shared with the ward's phone or another guardian) and recorded as a FamilyCodeIssue,
so the scan can note `presented_by`. The code itself still carries no personal data.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from healthcodes import codec, permissions
from healthcodes.conf import setting
from healthcodes.models import FamilyCodeIssue, HealthCard
from healthcodes.services.cards import IssuedCode, _issue, healthcard_current_or_issue
from healthnet.errors import Forbidden
from healthnet.models import Resident, User
from healthnet.selectors import resident_of_login, ward_of_guardian


def family_code_role_require(actor: User) -> None:
    if not permissions.can_view_family_healthcodes(actor):
        raise Forbidden(
            "residents_only", "仅居民本人可出示亲属码 (only a resident shows family codes)"
        )


def healthcode_ward_for(*, actor: User, ward_id: uuid.UUID | str) -> Resident:
    """The ward the signed-in guardian may show the code of; for any other id exactly the 404
    of a resident who does not exist."""
    family_code_role_require(actor)
    return ward_of_guardian(resident_of_login(actor), ward_id)


def healthcode_current_for_ward(
    *, actor: User, ward: Resident, now: dt.datetime | None = None
) -> tuple[IssuedCode, int]:
    """What the guardian's phone shows for `ward` (from healthcode_ward_for): a dynamic code of
    the ward's card, reused for the refresh interval like the resident's own, and the seconds
    after which to ask again."""
    family_code_role_require(actor)
    ward = ward_of_guardian(resident_of_login(actor), ward.public_id)  # still cared for, now
    now = now or timezone.now()
    card = healthcard_current_or_issue(actor=actor, resident=ward, now=now)
    refresh = int(setting("HEALTHCODE_DYNAMIC_REFRESH_SECONDS"))
    cache_key = f"hc:current:{card.sub}:for:{actor.resident_id}"
    issued: IssuedCode | None = cache.get(cache_key)
    if (
        issued is None
        or (now - issued.issued_at).total_seconds() >= refresh
        or issued.issued_at > now
    ):
        issued = _issue_family_code(card, presenter=resident_of_login(actor), now=now)
        cache.set(cache_key, issued, refresh)
    age = int((now - issued.issued_at).total_seconds())
    return issued, max(1, refresh - age)


def _issue_family_code(card: HealthCard, *, presenter: Resident, now: dt.datetime) -> IssuedCode:
    issued = _issue(
        card,
        code_type=codec.CodeType.DYNAMIC,
        lifetime=int(setting("HEALTHCODE_DYNAMIC_LIFETIME_SECONDS")),
        now=now,
    )
    with transaction.atomic():
        FamilyCodeIssue.objects.create(
            cti=issued.cti.hex(),
            card=card,
            presented_by=presenter,
            issued_at=issued.issued_at,
            expires_at=issued.expires_at,
        )
    return issued
