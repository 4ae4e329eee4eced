"""Benchmark: rebuilding the report rollups of one month, against hand-written SQL for the same
figures, and API reads from the rollups (PostgreSQL).

    python bench/bench_reports.py [--residents 20000] [--referrals 60000] [--database NAME]

Drops and recreates the database, migrates, loads the Wuhai network and generates the demo city
(generate_demo: residents, visits, contracts with follow-ups) at a fixed day, replaces its year of
referrals by one of about `--referrals` (demo/referrals.py at a raised rate), then in a subprocess:

- times `rebuild_period` of the busiest month (every KPI, compute and write), median of 5;
- times, in the same run, five KPIs (2 上转, 3 下转, 5 响应及时率, 6 拒绝率 by reason, 14 履约率)
  computed by their KPI functions against hand-written SQL for the same figures (GROUPING SETS
  over the raw tables for institution / district / city, and team for 14, plus one statement for
  the alliances by membership on the event's local day), median of 7 each, and checks that both
  give the same figures. The ratio KPI functions ÷ SQL is the overhead of the selector-and-Python
  design (target ≤ 1.5×);
- times the API reads (values at team level, series of 24 months, cards, CSV export) through
  Django's test client with a bearer token: p50 / p95 of 60 requests each, after 3 warm-ups.

`run()` returns the figures for `make bench` (BENCH_REPORTS_RESIDENTS sets the size). Not a test:
nothing fails on a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
DEFAULT_DATABASE = "healthnet_reports"
SEED = 20261130
TODAY = "2026-10-31"
MONTH = "2026-09"
REPEAT = 60


def run(
    residents: int | None = None,
    referrals: int | None = None,
    *,
    database: str = DEFAULT_DATABASE,
) -> dict:
    residents = residents or int(os.environ.get("BENCH_REPORTS_RESIDENTS", "20000"))
    referrals = referrals or int(os.environ.get("BENCH_REPORTS_REFERRALS", "60000"))
    url = _recreate_database(database)
    env = {**os.environ, "DATABASE_URL": url, "HEALTHNET_ENV": "development"}
    _manage(env, "migrate", "--noinput", "-v0")
    _manage(env, "load_network", str(ROOT / "data" / "wuhai.yaml"))
    _manage(env, "load_service_packages")
    started = time.perf_counter()
    _manage(
        env,
        "generate_demo",
        f"--residents={residents}",
        f"--seed={SEED}",
        f"--today={TODAY}",
        "--encounters-per-resident=2",
        "--no-progress",
    )
    _stage(env, "seed", str(referrals))
    generated = time.perf_counter() - started
    figures = json.loads(_stage(env, "measure"))
    rows = [
        ("residents", residents, "rows", "generate_demo at --today " + TODAY),
        ("referrals", figures["referrals"], "rows", ""),
        ("follow-ups", figures["followups"], "rows", ""),
        ("data generation", generated, "s", f"a year of referrals at about {referrals:,}"),
        (
            "hierarchy load, once per KPI call",
            figures["hierarchy_ms"],
            "ms",
            "reports.units.hierarchy: 5 queries",
        ),
        (
            f"rebuild {MONTH}, every KPI",
            figures["rebuild_ms"],
            "ms",
            f"{figures['rebuild_rows']:,} rollup rows, median of 5",
        ),
        (
            "5 KPIs: KPI functions / hand-written SQL",
            f"{figures['functions_ms']:.1f} / {figures['sql_ms']:.1f}",
            "ms",
            "median of 7 each, same figures checked",
        ),
        ("ratio functions ÷ SQL", round(figures["ratio"], 2), "×", "target ≤ 1.5×"),
    ]
    for name, kpi in figures["per_kpi"].items():
        rows.append(
            (
                f"  {name}: functions / SQL",
                f"{kpi['functions_ms']:.1f} / {kpi['sql_ms']:.1f}",
                "ms",
                "",
            )
        )
    for name, result in figures["reads"].items():
        rows.append(
            (
                f"{name}: p50 / p95",
                f"{result['p50']:.1f} / {result['p95']:.1f}",
                "ms",
                f"{result['queries']} queries, {result['rows']} rows",
            )
        )
    return {
        "title": f"Report rollups at {residents:,} residents (PostgreSQL)",
        "rows": rows,
        "notes": [
            "The SQL side is the figures only; the functions also return a zero figure for every "
            "unit without facts.",
            f"Reads: {REPEAT} requests each after 3 warm-ups, Django test client with a bearer "
            "token (authentication, the rollup query, serialisation).",
            "Measured on the shared 2-core machine while other work ran: noisy upwards.",
        ],
    }


# --- the measuring stage (a subprocess with DATABASE_URL set) ------------------------------------

SQL_REFERRALS_SUBMITTED = """
SELECT i.district, i.code, count(*) FILTER (WHERE r.direction = 'up'),
       count(*) FILTER (WHERE r.direction = 'down')
FROM referrals_referral r JOIN healthnet_institution i ON i.id = r.from_institution_id
WHERE r.submitted_at >= %(start)s AND r.submitted_at < %(end)s AND r.redirected_from_id IS NULL
GROUP BY GROUPING SETS ((i.district, i.code), (i.district), ())
"""
SQL_DECISIONS = """
SELECT i.district, i.code, count(*), count(*) FILTER (WHERE r.decided_at <= r.decision_due_at)
FROM referrals_referral r JOIN healthnet_institution i ON i.id = r.to_institution_id
WHERE r.decided_at >= %(start)s AND r.decided_at < %(end)s
GROUP BY GROUPING SETS ((i.district, i.code), (i.district), ())
"""
SQL_REJECTIONS = """
SELECT i.district, i.code, r.rejection_reason, count(*) FILTER (WHERE r.status = 'rejected'),
       count(*)
FROM referrals_referral r JOIN healthnet_institution i ON i.id = r.to_institution_id
WHERE r.decided_at >= %(start)s AND r.decided_at < %(end)s
GROUP BY GROUPING SETS ((i.district, i.code, r.rejection_reason), (i.district, i.code),
                        (i.district, r.rejection_reason), (i.district), (r.rejection_reason), ())
"""
SQL_FULFILMENT = """
SELECT i.district, i.code, c.team_id, count(*),
       count(*) FILTER (WHERE f.status = 'done'
                        AND (f.done_at AT TIME ZONE 'Asia/Shanghai')::date <= f.due_date)
FROM signing_followup f JOIN signing_contract c ON c.id = f.contract_id
     JOIN signing_familydoctorteam t ON t.id = c.team_id
     JOIN healthnet_institution i ON i.id = t.institution_id
WHERE f.due_date >= %(first)s AND f.due_date < %(after)s AND f.status <> 'cancelled'
GROUP BY GROUPING SETS ((i.district, i.code, c.team_id), (i.district, i.code), (i.district), ())
"""

# The alliance level: an institution counts for the alliances it is a member of on the event's
# local day (a second statement: joining memberships into the one above would count an
# institution in two alliances twice at the other levels).
SQL_REFERRALS_SUBMITTED_ALLIANCE = """
SELECT a.code, count(*) FILTER (WHERE r.direction = 'up'),
       count(*) FILTER (WHERE r.direction = 'down')
FROM referrals_referral r
JOIN healthnet_alliancemembership m ON m.institution_id = r.from_institution_id
  AND m.start_date <= (r.submitted_at AT TIME ZONE 'Asia/Shanghai')::date
  AND (m.end_date IS NULL OR (r.submitted_at AT TIME ZONE 'Asia/Shanghai')::date < m.end_date)
JOIN healthnet_alliance a ON a.id = m.alliance_id
WHERE r.submitted_at >= %(start)s AND r.submitted_at < %(end)s AND r.redirected_from_id IS NULL
GROUP BY a.code
"""
SQL_DECISIONS_ALLIANCE = """
SELECT a.code, count(*), count(*) FILTER (WHERE r.decided_at <= r.decision_due_at)
FROM referrals_referral r
JOIN healthnet_alliancemembership m ON m.institution_id = r.to_institution_id
  AND m.start_date <= (r.decided_at AT TIME ZONE 'Asia/Shanghai')::date
  AND (m.end_date IS NULL OR (r.decided_at AT TIME ZONE 'Asia/Shanghai')::date < m.end_date)
JOIN healthnet_alliance a ON a.id = m.alliance_id
WHERE r.decided_at >= %(start)s AND r.decided_at < %(end)s
GROUP BY a.code
"""
SQL_REJECTIONS_ALLIANCE = """
SELECT a.code, r.rejection_reason, count(*) FILTER (WHERE r.status = 'rejected'), count(*)
FROM referrals_referral r
JOIN healthnet_alliancemembership m ON m.institution_id = r.to_institution_id
  AND m.start_date <= (r.decided_at AT TIME ZONE 'Asia/Shanghai')::date
  AND (m.end_date IS NULL OR (r.decided_at AT TIME ZONE 'Asia/Shanghai')::date < m.end_date)
JOIN healthnet_alliance a ON a.id = m.alliance_id
WHERE r.decided_at >= %(start)s AND r.decided_at < %(end)s
GROUP BY GROUPING SETS ((a.code, r.rejection_reason), (a.code))
"""
SQL_FULFILMENT_ALLIANCE = """
SELECT a.code, count(*),
       count(*) FILTER (WHERE f.status = 'done'
                        AND (f.done_at AT TIME ZONE 'Asia/Shanghai')::date <= f.due_date)
FROM signing_followup f JOIN signing_contract c ON c.id = f.contract_id
     JOIN signing_familydoctorteam t ON t.id = c.team_id
     JOIN healthnet_alliancemembership m ON m.institution_id = t.institution_id
       AND m.start_date <= f.due_date AND (m.end_date IS NULL OR f.due_date < m.end_date)
     JOIN healthnet_alliance a ON a.id = m.alliance_id
WHERE f.due_date >= %(first)s AND f.due_date < %(after)s AND f.status <> 'cancelled'
GROUP BY a.code
"""


def _seed(target: int) -> dict:
    """generate_demo's year of referrals replaced by one at about `target` referrals."""
    import datetime as dt

    from django.db import connection

    from demo.referrals import generate_referrals
    from healthnet.models import Resident

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE referrals_referralevent, referrals_referral, referrals_departmentdayslots "
            "RESTART IDENTITY CASCADE"
        )
    rate = target / Resident.objects.count() / 1.25  # the demo adds ~25% (down, redirects)
    counts = generate_referrals(
        seed=SEED, today=dt.date.fromisoformat(TODAY), log=print, up_per_resident_year=rate
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return counts


def _sql(statement: str, params: dict) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


T = TypeVar("T")


def _median_ms(function: Callable[[], T], repeat: int) -> tuple[float, T]:
    """The median milliseconds of `repeat` (≥ 1) calls, and what the last one returned."""
    started = time.perf_counter()
    result = function()
    timings = [(time.perf_counter() - started) * 1000]
    for _ in range(repeat - 1):
        started = time.perf_counter()
        result = function()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), result


def _key(district, code) -> tuple[str, str]:
    if code is not None:
        return ("institution", code)
    if district is not None:
        return ("district", district)
    return ("city", "city")


def _compare_counts(figures: dict, rows: list[tuple], column: int, name: str) -> None:
    got = {_key(r[0], r[1]): r[column] for r in rows if r[column]}
    want = {
        key[:2]: int(f.numerator)
        for key, f in figures.items()
        if key[0] in ("city", "district", "institution") and f.numerator
    }
    assert got == want, name


def _measure() -> dict:
    from django.conf import settings
    from django.db import connection, reset_queries
    from django.test import Client

    from healthnet.models import User, UserRole
    from healthnet.services import api_token_issue
    from referrals.models import Referral
    from reports.kpis import KPIS
    from reports.periods import Period
    from reports.services import rebuild_period
    from reports.units import hierarchy
    from signing.models import FollowUp

    period = Period.parse(MONTH)
    start, end = period.bounds()
    params = {"start": start, "end": end, "first": period.start, "after": period.end}

    rebuild_ms, result = _median_ms(lambda: rebuild_period(period), 5)
    hierarchy_ms, _ = _median_ms(lambda: hierarchy(start=period.start, end=period.end), 7)

    pairs = {
        "2+3 referrals up/down": (
            ("referrals_up", "referrals_down"),
            (SQL_REFERRALS_SUBMITTED, SQL_REFERRALS_SUBMITTED_ALLIANCE),
        ),
        "5 decided on time": (("decision_on_time",), (SQL_DECISIONS, SQL_DECISIONS_ALLIANCE)),
        "6 rejection rate by reason": (
            ("rejection_rate",),
            (SQL_REJECTIONS, SQL_REJECTIONS_ALLIANCE),
        ),
        "14 fulfilment": (("fulfilment",), (SQL_FULFILMENT, SQL_FULFILMENT_ALLIANCE)),
    }
    per_kpi = {}
    for name, (codes, statements) in pairs.items():

        def run_functions(codes: tuple[str, ...] = codes) -> list[dict]:
            return [KPIS[code].compute(period) for code in codes]

        def run_sql(statements: tuple[str, ...] = statements) -> list[list[tuple]]:
            return [_sql(s, params) for s in statements]

        functions_ms, figures = _median_ms(run_functions, 7)
        sql_ms, results = _median_ms(run_sql, 7)
        rows, alliance_rows = results
        per_kpi[name] = {"functions_ms": functions_ms, "sql_ms": sql_ms}
        if name.startswith("2+3"):
            _compare_counts(figures[0], rows, 2, "referrals_up")
            _compare_counts(figures[1], rows, 3, "referrals_down")
            for column, figure in ((1, figures[0]), (2, figures[1])):
                got = {r[0]: r[column] for r in alliance_rows if r[column]}
                want = {
                    key[1]: int(f.numerator)
                    for key, f in figure.items()
                    if key[0] == "alliance" and f.numerator
                }
                assert got == want, "alliances"
        elif name.startswith("5"):
            _compare_counts(figures[0], rows, 3, "decision_on_time")
        elif name.startswith("14"):
            team = {str(r[2]): r[4] for r in rows if r[2] is not None and r[4]}
            want = {
                key[1]: int(f.numerator)
                for key, f in figures[0].items()
                if key[0] == "team" and f.numerator
            }
            assert team == want, "fulfilment"
    functions_total = sum(k["functions_ms"] for k in per_kpi.values())
    sql_total = sum(k["sql_ms"] for k in per_kpi.values())

    settings.DEBUG = True  # record queries
    User.objects.filter(username="bench-bureau").delete()
    bureau = User(username="bench-bureau", role=UserRole.BUREAU)
    bureau.set_password(settings.DEMO_PASSWORD)
    bureau.save()
    token, _ = api_token_issue(username="bench-bureau", password=settings.DEMO_PASSWORD)
    client = Client(HTTP_HOST="localhost", headers={"Authorization": f"Bearer {token}"})
    previous = period
    for _ in range(23):  # the series reads 24 months: rebuild them
        previous = previous.previous()
        rebuild_period(previous)
    team_sizes = [
        (figure.denominator or 0, key[1])
        for key, figure in KPIS["fulfilment"].compute(period).items()
        if key[0] == "team"
    ]
    busiest_team = max(team_sizes, default=(0, "0"))[1]
    reads = {
        "values, fulfilment, every team": (
            "/api/v1/reports/values",
            {"kpi": "fulfilment", "period": MONTH, "level": "team"},
        ),
        "values, rejection rate, every institution": (
            "/api/v1/reports/values",
            {"kpi": "rejection_rate", "period": MONTH, "level": "institution"},
        ),
        "series, 24 months, one team": (
            "/api/v1/reports/series",
            {"kpi": "fulfilment", "level": "team", "unit": busiest_team, "last": MONTH},
        ),
        "cards, city": ("/api/v1/reports/cards", {"period": MONTH}),
        "export.csv, the month": ("/api/v1/reports/export.csv", {"period": MONTH}),
    }
    timings_of = {}
    for name, (path, query) in reads.items():
        for _ in range(3):
            client.get(path, query)
        timings = []
        for _ in range(REPEAT):
            reset_queries()
            started = time.perf_counter()
            response = client.get(path, query)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content
        timings.sort()
        body = response.content
        row_count = body.count(b"\n") if path.endswith(".csv") else len(_rows_of(response.json()))
        timings_of[name] = {
            "p50": statistics.median(timings),
            "p95": timings[int(len(timings) * 0.95) - 1],
            "queries": len(connection.queries),
            "rows": row_count,
        }
        print(f"{name}: p50 {timings_of[name]['p50']:.1f} ms, p95 {timings_of[name]['p95']:.1f}")
    return {
        "referrals": Referral.objects.count(),
        "followups": FollowUp.objects.count(),
        "rebuild_ms": rebuild_ms,
        "hierarchy_ms": hierarchy_ms,
        "rebuild_rows": result.rows,
        "functions_ms": functions_total,
        "sql_ms": sql_total,
        "ratio": functions_total / sql_total if sql_total else 0.0,
        "per_kpi": per_kpi,
        "reads": timings_of,
    }


def _rows_of(body) -> list:
    return body if isinstance(body, list) else body.get("rows", [])


def _stage(env: dict, name: str, *args: str) -> str:
    output = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(Path(__file__).resolve()), "--stage", name, *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return output.strip().splitlines()[-1]


def _manage(env: dict, *args: str) -> None:
    subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args], env=env, cwd=ROOT, check=True
    )


def _recreate_database(name: str) -> str:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=20_000)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--referrals", type=int, default=60_000)
    parser.add_argument("--stage", choices=["seed", "measure"])
    parser.add_argument("target", nargs="?", type=int)
    options = parser.parse_args()
    if options.stage:
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        result = _seed(options.target) if options.stage == "seed" else _measure()
        print(json.dumps(result))
        return
    result = run(options.residents, options.referrals, database=options.database)
    for figure, value, unit, note in result["rows"]:
        print(f"{figure}: {value} {unit} {note}")


if __name__ == "__main__":
    main()
