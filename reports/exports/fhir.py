"""FHIR R4 exports of the KPIs: a `Measure` per KPI (its definition) and a summary
`MeasureReport` of one KPI for one unit and one period, built and validated with
fhir.resources.R4B (a resource that does not validate raises, it is never sent).

MeasureReport: type `summary`, the unit as `reporter` (display and identifier, no personal data),
one group per breakdown value (the total first), populations `numerator` / `denominator` for a
ratio (`initial-population` holding a count, `measure-population` the cases of a median),
`measureScore` the KPI's value. A suppressed
small cell keeps its group with neither populations nor score.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport

from reports.exports import LEVEL_NAMES, UNIT_NAMES
from reports.kpis import Kpi
from reports.periods import Period
from reports.selectors import KpiRow

POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"
SCORING_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-scoring"
KPI_SYSTEM = "urn:healthnet:wuhai:kpi"
UNIT_SYSTEM = "urn:healthnet:wuhai:report-unit"
BREAKDOWN_SYSTEM = "urn:healthnet:wuhai:kpi-breakdown"
UCUM = "http://unitsofmeasure.org"
SCORE_UNITS = {"ratio": ("1", "1"), "hours": ("h", "h"), "days": ("d", "d")}


def resource_id(code: str) -> str:
    """A FHIR id holds letters, digits, '-' and '.' only."""
    return code.replace("_", "-")[:64]


def _scoring(kpi: Kpi) -> str:
    return {"ratio": "proportion", "count": "cohort"}.get(kpi.unit, "continuous-variable")


def _population(code: str, count: int | None = None, description: str = "") -> dict:
    item: dict = {"code": {"coding": [{"system": POPULATION_SYSTEM, "code": code}]}}
    if count is not None:
        item["count"] = count
    if description:
        item["criteria"] = {"language": "text/plain", "expression": description}
    return item


def measure(kpi: Kpi, url: str) -> dict:
    """The Measure of a KPI, validated; as a JSON-ready dict."""
    definition = str(getattr(kpi, "definition", "") or kpi.name)
    populations = []
    if kpi.unit == "ratio":
        populations = [
            _population("numerator", description=definition),
            _population("denominator", description=definition),
        ]
    elif kpi.unit == "count":
        populations = [_population("initial-population", description=definition)]
    else:
        populations = [_population("measure-population", description=definition)]
    resource = Measure.model_validate(
        {
            "resourceType": "Measure",
            "id": resource_id(kpi.code),
            "url": url,
            "identifier": [{"system": KPI_SYSTEM, "value": kpi.code}],
            "name": "".join(part.capitalize() for part in kpi.code.split("_")),
            "title": str(kpi.name),
            "status": "active",
            "publisher": "乌海市卫生健康委员会",
            "description": definition,
            "scoring": {"coding": [{"system": SCORING_SYSTEM, "code": _scoring(kpi)}]},
            "group": [
                {
                    "code": {"text": f"{kpi.number}. {kpi.name}"},
                    "description": str(UNIT_NAMES.get(kpi.unit, kpi.unit)),
                    "population": populations,
                }
            ],
        }
    )
    return resource.model_dump(mode="json", exclude_none=True)


def _count(value: Decimal | None) -> int | None:
    return None if value is None else int(value)


def _group(kpi: Kpi, row: KpiRow) -> dict:
    group: dict = {
        "code": {
            "coding": [{"system": BREAKDOWN_SYSTEM, "code": row.breakdown}]
            if row.breakdown
            else [],
            "text": row.breakdown or "total",
        }
    }
    if not group["code"]["coding"]:
        del group["code"]["coding"]
    if row.suppressed:
        return group
    if kpi.unit == "ratio":
        group["population"] = [
            _population("numerator", _count(row.numerator)),
            _population("denominator", _count(row.denominator)),
        ]
    elif kpi.unit == "count":
        group["population"] = [_population("initial-population", _count(row.numerator))]
    elif row.denominator is not None:  # a median: the number of cases it is the median of
        group["population"] = [_population("measure-population", _count(row.denominator))]
    if row.value is not None:
        score: dict = {"value": float(row.value)}
        if kpi.unit in SCORE_UNITS:
            unit, code = SCORE_UNITS[kpi.unit]
            score |= {"unit": unit, "system": UCUM, "code": code}
        group["measureScore"] = score
    return group


def measure_report(
    kpi: Kpi,
    period: Period,
    rows: list[KpiRow],
    *,
    measure_url: str,
    computed_at: dt.datetime | None,
) -> dict:
    """The summary MeasureReport of one unit's rows (one per breakdown value), validated."""
    first = rows[0]
    start, end = period.bounds()
    ordered = sorted(rows, key=lambda r: (r.breakdown != "", r.breakdown))
    resource = MeasureReport.model_validate(
        {
            "resourceType": "MeasureReport",
            "id": resource_id(f"{kpi.code}.{period.label}.{first.level}.{first.unit_code}"),
            "status": "complete",
            "type": "summary",
            "measure": measure_url,
            "date": (computed_at or timezone.now()).isoformat(),
            "reporter": {
                "identifier": {
                    "system": f"{UNIT_SYSTEM}:{first.level}",
                    "value": first.unit_code,
                },
                "display": f"{first.unit_name}（{LEVEL_NAMES.get(first.level, first.level)}）",
            },
            "period": {
                "start": start.isoformat(),
                "end": (end - dt.timedelta(seconds=1)).isoformat(),
            },
            "group": [_group(kpi, row) for row in ordered],
        }
    )
    return resource.model_dump(mode="json", exclude_none=True)
