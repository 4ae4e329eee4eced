"""The resident's own records on the phone: 我的签约 and 我的转诊 (issue 11).

Read through the owning apps' selectors with the resident's own login, so a resident sees only
their own (`signing.selectors.contracts_visible_to`, `referrals.selectors.referrals_worklist` and
`referral_for_user`, which answer 404 for anyone else's referral). Statuses are told in plain
words, not workflow names: what happens next and what the resident should do.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from healthnet.services import audit_record
from portal.htmx import PortalRequest
from portal.menu import page_view
from portal.pages.errors import domain_errors_as_http
from portal.pages.resident import resident_context
from referrals.models import Referral, ReferralDirection, ReferralStatus
from referrals.selectors import WorklistFilters, referral_for_user, referrals_worklist
from signing.models import (
    ACTIVE_STATUSES,
    RENEWAL_NOTICE_DAYS,
    Contract,
    ContractStatus,
    FollowUpStatus,
)
from signing.selectors import contract_detail, contracts_visible_to

# --- 我的签约 ------------------------------------------------------------------------------


def _current_contract(contracts: list[Contract]) -> Contract | None:
    """The contract the resident means by "my contract": the one in force, else one waiting for
    their signature, else the last one that ended."""
    for wanted in (ACTIVE_STATUSES, (ContractStatus.PENDING_SIGNATURE,)):
        for contract in contracts:
            if contract.status in wanted:
                return contract
    return max(contracts, key=lambda c: c.end_date, default=None)


CONTRACT_IN_WORDS: dict[str, Promise] = {
    ContractStatus.PENDING_SIGNATURE: gettext_lazy("待您确认签约：请到家庭医生团队所在机构签署"),
    ContractStatus.ACTIVE: gettext_lazy("签约有效，家庭医生团队为您提供服务"),
    ContractStatus.RENEWAL_DUE: gettext_lazy("即将到期：请在到期前联系团队续约"),
    ContractStatus.RENEWED: gettext_lazy("已续约"),
    ContractStatus.SWITCHED: gettext_lazy("已改签其他团队"),
    ContractStatus.EXPIRED: gettext_lazy("签约已到期，可到社区卫生服务中心重新签约"),
    ContractStatus.TERMINATED: gettext_lazy("签约已解除"),
}


@page_view("my-contract")
def my_contract(request: PortalRequest) -> HttpResponse:
    today = timezone.localdate()
    contracts = list(contracts_visible_to(request.user, today=today))
    chosen = _current_contract(contracts)
    context = resident_context(request, contract=None, today=today)
    if chosen is not None:
        contract = contract_detail(chosen.public_id)
        audit_record(
            actor=request.user, action="read", object_type="contract", object_id=contract.public_id
        )
        followups = list(contract.follow_ups.all())
        # The team's members through the contract's team: signing's team selectors are scoped
        # to staff, and it offers none for the resident's own team yet.
        members = list(
            contract.team.members.filter(active=True)
            .select_related("practitioner")
            .order_by("role", "pk")
        )
        context.update(
            contract=contract,
            in_words=CONTRACT_IN_WORDS.get(contract.status, ""),
            is_active=contract.status in ACTIVE_STATUSES,
            renewal_from=contract.end_date - dt.timedelta(days=RENEWAL_NOTICE_DAYS),
            institution=contract.team.institution,
            members=members,
            lead_in_members=any(m.practitioner_id == contract.team.lead_id for m in members),
            packages=list(contract.packages.all()),
            due_next=[f for f in followups if f.status == FollowUpStatus.PENDING][:6],
            history=sorted(
                (f for f in followups if f.status == FollowUpStatus.DONE),
                # (a done follow-up always has done_at; the fallback only satisfies the type)
                key=lambda f: f.done_at or dt.datetime.min.replace(tzinfo=dt.UTC),
                reverse=True,
            ),
        )
    return render(request, "portal/resident/my_contract.html", context)


# --- 我的转诊 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferralView:
    """A referral as the resident reads it."""

    referral: Referral
    in_words: str
    badge: str
    follow_up_by: str  # the clinic that follows up after a downward referral, else ""
    what_to_bring: list[str]


def _in_words(referral: Referral) -> str:
    to = referral.to_institution.name
    status = referral.status
    if status == ReferralStatus.SUBMITTED:
        return _("已提交，等待%(to)s确认接收") % {"to": to}
    if status == ReferralStatus.ACCEPTED:
        return _("%(to)s已同意接收，正在为您安排就诊时间") % {"to": to}
    if status == ReferralStatus.SCHEDULED:
        return _("已预约：请按时到%(to)s就诊") % {"to": to}
    if status == ReferralStatus.NO_SHOW:
        return _("您未按预约就诊，%(to)s将联系您重新安排") % {"to": to}
    if status == ReferralStatus.ARRIVED:
        return _("您已到诊，正在诊治")
    if status == ReferralStatus.COMPLETED:
        return _("诊治已完成，结果已反馈给您的转出医生")
    if status == ReferralStatus.CLOSED:
        return _("本次转诊已结束")
    if status == ReferralStatus.REJECTED:
        return _("%(to)s未能接收本次转诊，请联系您的转出医生另行安排") % {"to": to}
    if status == ReferralStatus.REDIRECTED:
        return _("已改转到另一家医院，请看新的转诊")
    return _("本次转诊已取消")


def _badge(referral: Referral) -> str:
    if referral.status == ReferralStatus.SCHEDULED:
        return "ok"
    if referral.status in (ReferralStatus.NO_SHOW, ReferralStatus.REJECTED):
        return "urgent"
    return "muted" if not referral.is_open else ""


def _what_to_bring(referral: Referral) -> list[str]:
    if not referral.is_open:
        return []
    items = [
        _("身份证或本人健康码（亲属可出示亲属码）"),
        _("医保卡"),
        _("既往病历、检查报告和正在服用的药品"),
    ]
    if referral.direction == ReferralDirection.DOWN:
        items.append(_("出院小结或上级医院的诊疗意见"))
    return items


def _follow_up_by(referral: Referral) -> str:
    if referral.direction == ReferralDirection.DOWN:
        return referral.to_institution.name
    follow_on = getattr(referral, "follow_on", None)
    return follow_on.to_institution.name if follow_on is not None else ""


def referral_view(referral: Referral) -> ReferralView:
    return ReferralView(
        referral=referral,
        in_words=_in_words(referral),
        badge=_badge(referral),
        follow_up_by=_follow_up_by(referral),
        what_to_bring=_what_to_bring(referral),
    )


@page_view("my-referrals")
def my_referrals(request: PortalRequest) -> HttpResponse:
    """The resident's referrals, those in progress first, newest first."""
    mine = referrals_worklist(request.user, WorklistFilters()).exclude(status=ReferralStatus.DRAFT)
    rows = list(mine.select_related("follow_on__to_institution")[:50])
    rows.sort(key=lambda r: (not r.is_open, -r.created_at.timestamp()))
    return render(
        request,
        "portal/resident/my_referrals.html",
        resident_context(request, referrals=[referral_view(r) for r in rows]),
    )


@page_view("my-referrals")
@domain_errors_as_http
def my_referral(request: PortalRequest, referral_id: uuid.UUID) -> HttpResponse:
    """One of the resident's referrals with its steps; anyone else's: 404."""
    referral = referral_for_user(request.user, referral_id)
    audit_record(
        actor=request.user, action="read", object_type="referral", object_id=referral.public_id
    )
    steps = [event for event in referral.events.all() if event.to_status]
    labels = dict(ReferralStatus.choices)
    return render(
        request,
        "portal/resident/my_referral.html",
        resident_context(
            request,
            item=referral_view(referral),
            steps=[(event.at, labels.get(event.to_status, event.to_status)) for event in steps],
        ),
    )
