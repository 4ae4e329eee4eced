"""The bureau's tiered-care KPIs (docs/design.md §7, docs/reports.md): one function per KPI, in the
order of issue 12, each with its exact numerator and denominator. `KPIS[code].compute(period)`
gives the figure of every unit of every level the KPI is defined at, keyed
(level, unit code, breakdown value or "").

The rollups (reports/services), the API and the dashboard read figures through reports.selectors;
this package is the one place a figure's definition lives.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from healthnet.models import KeyPopulation
from referrals.models import CareSetting, RejectionReason
from reports.kpis import downward, referral_kpis, signing_kpis, visits
from reports.kpis.base import Figure, Key, Kpi
from reports.units import Level

__all__ = ["KPIS", "Figure", "Key", "Kpi", "Level", "kpi_by_code"]

ALL: tuple[Level, ...] = ("city", "district", "alliance", "institution", "team")
INSTITUTIONS: tuple[Level, ...] = ("city", "district", "alliance", "institution")
AREAS: tuple[Level, ...] = ("city", "district", "alliance")
RESIDENTS: tuple[Level, ...] = ("city", "district")

_KPIS = (
    Kpi(
        "primary_care_share",
        1,
        _("基层就诊率"),
        "ratio",
        AREAS,
        None,
        visits.primary_care_share,
        definition=_("基层医疗机构就诊人次 ÷ 全部就诊人次"),
    ),
    Kpi(
        "referrals_up",
        2,
        _("上转人次"),
        "count",
        INSTITUTIONS,
        None,
        referral_kpis.referrals_up,
        definition=_("本期提交的上转申请数（改转不重复计）"),
    ),
    Kpi(
        "referrals_down",
        3,
        _("下转人次"),
        "count",
        INSTITUTIONS,
        "care_setting",
        referral_kpis.referrals_down,
        breakdown_values=tuple(CareSetting.choices),
        definition=_("本期提交的下转申请数（改转不重复计）"),
    ),
    Kpi(
        "down_up_ratio",
        3,
        _("下转/上转比"),
        "ratio",
        AREAS,
        None,
        referral_kpis.down_up_ratio,
        definition=_("本期下转人次 ÷ 本期上转人次"),
    ),
    Kpi(
        "inpatient_down_share",
        4,
        _("住院患者下转占比"),
        "ratio",
        INSTITUTIONS,
        None,
        downward.inpatient_down_share,
        definition=_("住院患者下转人次 ÷ 出院人次"),
    ),
    Kpi(
        "decision_on_time",
        5,
        _("转诊响应及时率"),
        "ratio",
        INSTITUTIONS,
        None,
        referral_kpis.decision_on_time,
        definition=_("时限内作出决定的转诊数 ÷ 作出决定的转诊数"),
    ),
    Kpi(
        "decision_hours_median",
        5,
        _("转诊响应时长中位数（小时）"),
        "hours",
        INSTITUTIONS,
        None,
        referral_kpis.decision_hours_median,
        definition=_("从提交到作出决定的小时数的中位数"),
    ),
    Kpi(
        "rejection_rate",
        6,
        _("转诊拒绝率"),
        "ratio",
        INSTITUTIONS,
        "reason",
        referral_kpis.rejection_rate,
        breakdown_values=tuple(RejectionReason.choices),
        definition=_("拒绝的转诊数 ÷ 作出决定的转诊数（按拒绝原因分列）"),
    ),
    Kpi(
        "loop_closed_3d",
        7,
        _("转诊闭环率"),
        "ratio",
        INSTITUTIONS,
        None,
        referral_kpis.loop_closed_3d,
        definition=_("完成后3天内闭环的转诊数 ÷ 完成的转诊数"),
    ),
    Kpi(
        "reserved_slot_use",
        8,
        _("预留号源使用率"),
        "ratio",
        INSTITUTIONS,
        None,
        referral_kpis.reserved_slot_use,
        definition=_("已预约的预留号源数 ÷ 预留号源数"),
    ),
    Kpi(
        "wait_days_median",
        9,
        _("上转候诊天数"),
        "days",
        INSTITUTIONS,
        None,
        referral_kpis.wait_days_median,
        definition=_("上转从接收到预约就诊日的天数的中位数"),
    ),
    Kpi(
        "down_followup_on_time",
        10,
        _("下转随访及时率"),
        "ratio",
        INSTITUTIONS,
        None,
        downward.down_followup_on_time,
        definition=_("3天内完成家庭医生随访的下转数 ÷ 应随访的下转数"),
    ),
    Kpi(
        "contract_coverage",
        11,
        _("签约服务覆盖率"),
        "ratio",
        RESIDENTS,
        None,
        signing_kpis.contract_coverage,
        definition=_("期末签约有效的居民数 ÷ 常住居民数"),
    ),
    Kpi(
        "key_population_coverage",
        12,
        _("重点人群签约覆盖率"),
        "ratio",
        RESIDENTS,
        "population",
        signing_kpis.key_population_coverage,
        breakdown_values=tuple(KeyPopulation.choices),
        definition=_("期末签约有效的重点人群居民数 ÷ 重点人群居民数（按人群分列）"),
    ),
    Kpi(
        "renewal_rate",
        13,
        _("续约率"),
        "ratio",
        ALL,
        None,
        signing_kpis.renewal_rate,
        definition=_("本期到期并与原团队续约的签约数 ÷ 本期到期的签约数"),
    ),
    Kpi(
        "fulfilment",
        14,
        _("履约率"),
        "ratio",
        ALL,
        None,
        signing_kpis.fulfilment,
        definition=_("本期应随访且在应随访日当天或之前完成的随访数 ÷ 本期应随访数"),
    ),
    Kpi(
        "fulfilment_grace",
        14,
        _("履约率（含14天宽限）"),
        "ratio",
        ALL,
        None,
        signing_kpis.fulfilment_grace,
        definition=_("本期应随访且在应随访日后14天内完成的随访数 ÷ 本期应随访数"),
    ),
    Kpi(
        "scan_registration_share",
        15,
        _("扫码就医率"),
        "ratio",
        INSTITUTIONS,
        None,
        visits.scan_registration_share,
        definition=_("扫健康码挂号的人次 ÷ 全部挂号人次（门诊、急诊）"),
    ),
)

KPIS: dict[str, Kpi] = {kpi.code: kpi for kpi in _KPIS}


def kpi_by_code(code: str) -> Kpi:
    """The KPI of a code; KeyError for an unknown one."""
    return KPIS[code]
