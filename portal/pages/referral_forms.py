"""The forms of a referral's actions on its detail page, each made from the action's input schema
(referrals.workflow.REFERRAL_WORKFLOW: ReferralRejectIn, ReferralScheduleIn, …) with the choices
the page offers: the coded rejection reasons (the schema's enumeration), the redirect targets
(referrals.selectors.redirect_targets_suggested: alliance partners first), and the appointment
days with the department's free reserved slots (referrals.selectors.department_day_slots, the
slots API's selector)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from healthnet.models import User
from portal.schema_forms import SchemaForm
from referrals.models import Referral, ReferralUrgency
from referrals.selectors import department_day_slots, redirect_targets_suggested
from referrals.transitions import Action
from referrals.workflow import REFERRAL_WORKFLOW

# The days offered to reschedule after a no-show (no booking deadline then).
RESCHEDULE_DAYS = 14

TITLES: dict[str, Promise] = {  # by action name (a URL gives it as text)
    Action.SUBMIT: gettext_lazy("提交"),
    Action.ACCEPT: gettext_lazy("接收"),
    Action.REJECT: gettext_lazy("拒绝"),
    Action.REDIRECT: gettext_lazy("改转"),
    Action.SCHEDULE: gettext_lazy("预约"),
    Action.ARRIVE: gettext_lazy("到诊"),
    Action.NO_SHOW: gettext_lazy("爽约"),
    Action.RESCHEDULE: gettext_lazy("改约"),
    Action.COMPLETE: gettext_lazy("诊疗反馈"),
    Action.ACKNOWLEDGE: gettext_lazy("确认闭环"),
    Action.CANCEL: gettext_lazy("取消转诊"),
}
# The timeline's other lines: the system's moves and the creation.
EVENT_TITLES: dict[str, Promise] = {
    **TITLES,
    "create": gettext_lazy("创建"),
    "escalate": gettext_lazy("超时上报"),
    Action.AUTO_CLOSE: gettext_lazy("自动闭环"),
    Action.CLOSE_LOOP: gettext_lazy("随访闭环"),
}
LABELS = {
    "comment": gettext_lazy("说明"),
    "reason_code": gettext_lazy("拒绝原因"),
    "to_department": gettext_lazy("改转至"),
    "date": gettext_lazy("预约日期（剩余预留号源）"),
    "summary": gettext_lazy("诊疗小结"),
    "findings": gettext_lazy("检查所见"),
    "diagnosis": gettext_lazy("诊断"),
    "recommendations": gettext_lazy("后续建议"),
    "return_to_primary_care": gettext_lazy("转回基层（自动生成下转单）"),
    "resident_consent": gettext_lazy("居民已同意下转"),
    "reason": gettext_lazy("取消原因"),
}
HINTS = {
    "to_department": gettext_lazy("医联体成员单位在前。"),
    "return_to_primary_care": gettext_lazy("上转完成后转回居民的基层机构继续康复随访。"),
    "resident_consent": gettext_lazy("已签约居民下转至其家庭医生团队所在机构时须居民同意。"),
}
# A 409 that means the referral is no longer in the state the page was showing (someone else
# moved it meanwhile): the page says so and shows the new state.
STATE_CONFLICTS = frozenset({"transition_not_allowed"})
# Refusals about the day chosen that the service does not tie to a field: shown at the date.
FIELD_OF_CODE = {
    code: {"": "date"} for code in ("slots_full", "no_reserved_slots", "reschedule_limit")
}


def booking_days(referral: Referral, action: str) -> list[dict[str, Any]]:
    """The days the schedule (up to the booking deadline) or reschedule form offers, each with
    the department's free reserved slots (none needed for the green channel)."""
    today = timezone.localdate()
    last = today + dt.timedelta(days=RESCHEDULE_DAYS - 1)
    if action == Action.SCHEDULE and referral.booking_due_at is not None:
        last = max(timezone.localtime(referral.booking_due_at).date(), today)
    days = department_day_slots(
        referral.to_department, start=today, days=min((last - today).days + 1, 31)
    )
    green = referral.urgency == ReferralUrgency.EMERGENCY
    return [{"day": d, "bookable": green or d.free > 0, "green": green} for d in days]


def _day_label(entry: dict[str, Any]) -> str:
    day = entry["day"]
    text = f"{day.date:%Y-%m-%d} {formats.date_format(day.date, 'D')}"
    if entry["green"]:
        return _("%(day)s · 绿色通道，不占号源") % {"day": text}
    if day.free == 0:
        return _("%(day)s · 已约满（%(capacity)s 个）") % {"day": text, "capacity": day.capacity}
    return _("%(day)s · 剩 %(free)s / %(capacity)s 个") % {
        "day": text,
        "free": day.free,
        "capacity": day.capacity,
    }


def action_form(
    user: User, referral: Referral, action: str, *, data: Any = None
) -> SchemaForm | None:
    """The action's form (None: the action takes no input, a button is enough)."""
    spec = REFERRAL_WORKFLOW.action(action)
    if spec.input is None:
        return None
    choices: dict[str, Any] = {}
    initial: dict[str, Any] = {}
    hints = dict(HINTS)
    if action == Action.REDIRECT:
        choices["to_department"] = [("", _("请选择")), *redirect_choices(user, referral)]
    if action in (Action.SCHEDULE, Action.RESCHEDULE):
        days = booking_days(referral, action)
        choices["date"] = [(f"{e['day'].date:%Y-%m-%d}", _day_label(e)) for e in days]
        first = next((e for e in days if e["bookable"]), None)
        if first is not None:
            initial["date"] = f"{first['day'].date:%Y-%m-%d}"
    exclude = []
    if action == Action.COMPLETE and referral.direction != "up":
        exclude.append("return_to_primary_care")  # only an upward referral goes back down
    return SchemaForm(
        spec.input,
        data=data,
        initial=initial,
        labels=LABELS,
        choices=choices,
        hints=hints,
        exclude=exclude,
        prefix=f"{action}-",
    )


def redirect_choices(user: User, referral: Referral) -> list[tuple[str, str]]:
    choices = []
    for s in redirect_targets_suggested(user, referral):
        department = s.department
        label = f"{department.institution.name} · {department.name}"
        if s.alliance_partner:
            label += " · " + _("医联体") + " " + "、".join(s.alliances)
        if s.team_institution:
            label += " · " + _("家庭医生团队所在机构")
        choices.append((str(department.public_id), label))
    return choices
