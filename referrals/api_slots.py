"""GET /api/v1/referrals/slots: a department's free reserved referral slots (预留号源) per day, the
view the schedule form's day picker shows (referrals.selectors.department_day_slots). Its own
router beside referrals.api's, mounted at the same prefix."""

import datetime as dt
import uuid

from django.utils import timezone
from ninja import Field, Query, Router, Schema

from config.openapi import IsoDate, errors
from healthnet.errors import Forbidden
from healthnet.selectors import department_by_public_id
from referrals import permissions, selectors
from referrals.api import DepartmentRefOut, PartyOut

router = Router(tags=["referrals"])


class SlotsFilter(Schema):
    department: uuid.UUID = Field(..., description="the receiving department's id")
    start: IsoDate | None = Field(None, alias="from", description="the first day (default today)")
    days: int = Field(14, ge=1, le=selectors.SLOTS_MAX_DAYS, description="how many days")


class DaySlotsOut(Schema):
    date: dt.date
    capacity: int
    booked: int
    free: int


class SlotsOut(Schema):
    department: DepartmentRefOut
    institution: PartyOut
    referral_slots_per_day: int
    days: list[DaySlotsOut]


@router.get(
    "/slots",
    response={200: SlotsOut, **errors(403, 404)},
)
def referral_slots(request, filters: Query[SlotsFilter]):
    """A department's reserved referral slots (预留号源) per day: capacity, booked and free, for
    `days` days (1–31, default 14) from `from` (default today). A day nobody has booked yet has
    the department's `referral_slots_per_day`. Staff who work the worklists or refer; 403
    `referral_slots_forbidden` for others, 404 `department_not_found`, 422 for a bad parameter
    (the emergency green channel takes no reserved slot)."""
    if not permissions.can_view_referral_slots(request.user):
        raise Forbidden(
            "referral_slots_forbidden", "您的角色不能查看转诊号源 (your role may not see slots)"
        )
    department = department_by_public_id(filters.department)
    start = filters.start or timezone.localdate()
    days = selectors.department_day_slots(department, start=start, days=filters.days)
    return {
        "department": department,
        "institution": department.institution,
        "referral_slots_per_day": department.referral_slots_per_day,
        "days": [
            {"date": d.date, "capacity": d.capacity, "booked": d.booked, "free": d.free}
            for d in days
        ],
    }
