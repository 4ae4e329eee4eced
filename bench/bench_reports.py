"""Benchmark: rebuilding the report rollups of one month, against hand-written SQL for the same
figures, and API reads from the rollups (PostgreSQL).

    python bench/bench_reports.py [--residents 20000] [--referrals 60000]
        [--visits-per-resident 2] [--database NAME] [--stage measure]

The city's scale: --residents 560000 --visits-per-resident 3.6 --referrals 100000 (about 2,000,000
visits and a year of 115,000 referrals).

Drops and recreates the database, migrates, loads the Wuhai network and generates the demo city
(generate_demo: residents, visits, contracts with follow-ups) at a fixed day, replaces its year of
referrals by one of about `--referrals` (demo/referrals.py at a raised rate), then in a subprocess:

- times `rebuild_period` of the busiest month (every KPI, compute and write), median of 5;
- times, in the same run, five KPIs (2 上转, 3 下转, 5 响应及时率, 6 拒绝率 by reason, 14 履约率)
  computed by their KPI functions as a rebuild does (one read of the unit hierarchy shared by the
  KPIs: reports.units.shared_hierarchy) against hand-written SQL for the same figures (GROUPING
  SETS over the raw tables for institution / district / city, and team for 14, plus one statement
  for the alliances by membership on the event's local day), in interleaved rounds, and checks that
  both give the same figures. The ratio KPI functions ÷ SQL is the overhead of the
  selector-and-Python design (target ≤ 1.5×); the same five with one hierarchy read per KPI (as
  `compute(period)` alone does) are timed too;
- times `rebuild_months` of 24 months ending with that month, with their quarters and years;
- times the API reads (values at team level, series of 24 months, cards, CSV export) through
  Django's test client with a bearer token, and the bureau's dashboard and a KPI page with a
  session: p50 / p95 of 60 requests each, after 3 warm-ups (target p95 < 50 ms).

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
from typing import Any, TypeVar

if __package__ in (None, ""):  # run as a script (its stages): the repository on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support import manage, percentiles, recreate_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "healthnet_reports"
SEED = 20261130
TODAY = "2026-10-31"
MONTH = "2026-09"
REPEAT = 60
ROUNDS = 15


def run(
    residents: int | None = None,
    referrals: int | None = None,
    *,
    database: str = DEFAULT_DATABASE,
    visits_per_resident: float | None = None,
) -> dict:
    residents = residents or int(os.environ.get("BENCH_REPORTS_RESIDENTS", "20000"))
    referrals = referrals or int(os.environ.get("BENCH_REPORTS_REFERRALS", "60000"))
    visits_per_resident = visits_per_resident or float(
        os.environ.get("BENCH_REPORTS_VISITS_PER_RESIDENT", "2")
    )
    url = recreate_database(database)
    env = {**os.environ, "DATABASE_URL": url, "HEALTHNET_ENV": "development"}
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "load_network", str(ROOT / "data" / "wuhai.yaml"))
    manage(env, "load_service_packages")
    started = time.perf_counter()
    manage(
        env,
        "generate_demo",
        f"--residents={residents}",
        f"--seed={SEED}",
        f"--today={TODAY}",
        f"--encounters-per-resident={visits_per_resident}",
        "--no-progress",
    )
    _stage(env, "seed", str(referrals))
    generated = time.perf_counter() - started
    figures = json.loads(_stage(env, "measure"))
    rows = [
        ("residents", residents, "rows", "generate_demo at --today " + TODAY),
        ("referrals", figures["referrals"], "rows", ""),
        ("visits (encounters)", figures["encounters"], "rows", ""),
        ("contracts", figures["contracts"], "rows", ""),
        ("follow-ups", figures["followups"], "rows", ""),
        ("data generation", generated, "s", f"a year of referrals at about {referrals:,}"),
        (
            "hierarchy load, once per rebuilt period",
            round(figures["hierarchy_ms"], 2),
            "ms",
            "reports.units.hierarchy: 5 queries, shared by the KPIs",
        ),
        (
            f"rebuild {MONTH}, every KPI",
            round(figures["rebuild_ms"], 1),
            "ms",
            f"{figures['rebuild_rows']:,} rollup rows, median of 5",
        ),
        (
            "5 KPIs: KPI functions / hand-written SQL",
            f"{figures['functions_ms']:.1f} / {figures['sql_ms']:.1f}",
            "ms",
            f"{ROUNDS} interleaved rounds, one shared hierarchy read as in a rebuild, medians",
        ),
        (
            "ratio functions ÷ SQL",
            round(figures["ratio"], 2),
            "×",
            "median of the rounds' ratios; target ≤ 1.5×",
        ),
        (
            "  same 5, one hierarchy read per KPI",
            f"{figures['unshared_ms']:.1f}",
            "ms",
            f"{figures['unshared_ratio']:.2f}× SQL: compute(period) alone",
        ),
        (
            f"rebuild 24 months to {MONTH} + their quarters and years",
            round(figures["rebuild_24_s"], 1),
            "s",
            f"{figures['rebuild_24_periods']} periods, {figures['rebuild_24_rows']:,} rows, once",
        ),
    ]
    for name, kpi in figures["per_kpi"].items():
        rows.append(
            (
                f"  {name}: functions / SQL",
                f"{kpi['functions_ms']:.1f} / {kpi['sql_ms']:.1f}",
                "ms",
                "the period's hierarchy already read; median of 7 each",
            )
        )
    reference = next(r for n, r in figures["reads"].items() if n.startswith("reference"))
    for name, result in figures["reads"].items():
        ratio = "" if result is reference else f", ×{result['p50'] / reference['p50']:.1f} ref"
        rows.append(
            (
                f"{name}: p50 / p95",
                f"{result['p50']:.1f} / {result['p95']:.1f}",
                "ms",
                f"min–max {result['min']:.1f}–{result['max']:.1f} ms, {result['queries']} queries"
                + ("" if result is reference else f", {result['rows']} rows")
                + ratio,
            )
        )
    reads = {
        n: r
        for n, r in figures["reads"].items()
        if not n.startswith("export") and r is not reference
    }
    worst = max(reads, key=lambda n: reads[n]["p95"])
    rows.append(
        (
            "worst read p95 (dashboard, KPI page, API; export aside)",
            round(reads[worst]["p95"], 1),
            "ms",
            f"{worst}; target < 50 ms",
        )
    )
    return {
        "title": f"Report rollups at {residents:,} residents (PostgreSQL)",
        "rows": rows,
        "notes": [
            "The SQL side is the figures only; the functions also return a zero figure for every "
            "unit without facts.",
            f"Reads: {REPEAT} interleaved rounds after 3 warm-ups, Django test client (API: "
            "bearer token; pages: session): authentication, the rollup query, "
            "serialisation/render. ×ref: the read's median over the median of "
            "GET /accounts/keepalive/ by the same session in the same rounds.",
            "Measured on the shared 2-core machine while other work ran: noisy upwards.",
        ],
    }


# --- the measuring stage (a subprocess with DATABASE_URL set) ------------------------------------


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
    # Another seed than generate_demo's: the same one would draw the same public ids for the
    # visits the referrals open (generate_demo's referral visits and stays are kept).
    counts = generate_referrals(
        seed=SEED + 1, today=dt.date.fromisoformat(TODAY), log=print, up_per_resident_year=rate
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


def _measure() -> dict:
    from django.conf import settings
    from django.db import connection, reset_queries
    from django.test import Client

    from bench.reports_sql import (
        SQL_DECISIONS,
        SQL_DECISIONS_ALLIANCE,
        SQL_FULFILMENT,
        SQL_FULFILMENT_ALLIANCE,
        SQL_REFERRALS_SUBMITTED,
        SQL_REFERRALS_SUBMITTED_ALLIANCE,
        SQL_REJECTIONS,
        SQL_REJECTIONS_ALLIANCE,
        compare_counts,
    )
    from healthnet.models import Encounter, User, UserRole
    from healthnet.services import api_token_issue
    from referrals.models import Referral
    from reports.kpis import KPIS
    from reports.periods import Period
    from reports.services import rebuild_months, rebuild_period
    from reports.units import hierarchy, shared_hierarchy
    from signing.models import Contract, FollowUp

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
    every_code = [code for codes, _statements in pairs.values() for code in codes]

    def as_in_a_rebuild():
        with shared_hierarchy():
            return [KPIS[code].compute(period) for code in every_code]

    every_statement = [s for _codes, statements in pairs.values() for s in statements]
    # Interleaved rounds (functions, SQL, functions without sharing): the shared machine's load
    # then weighs on the three alike; the ratio is the median of the rounds' ratios.
    rounds = []
    for _ in range(ROUNDS):
        functions_ms, _ = _median_ms(as_in_a_rebuild, 1)
        sql_ms, _ = _median_ms(lambda: [_sql(s, params) for s in every_statement], 1)
        unshared_ms, _ = _median_ms(lambda: [KPIS[code].compute(period) for code in every_code], 1)
        rounds.append((functions_ms, sql_ms, unshared_ms))
    functions_total = statistics.median(r[0] for r in rounds)
    sql_total = statistics.median(r[1] for r in rounds)
    unshared_ms = statistics.median(r[2] for r in rounds)
    ratio = statistics.median(r[0] / r[1] for r in rounds)
    unshared_ratio = statistics.median(r[2] / r[1] for r in rounds)
    per_kpi = {}
    with shared_hierarchy():  # per KPI: the computation with the period's tree already read
        hierarchy(start=period.start, end=period.end)
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
                compare_counts(figures[0], rows, 2, "referrals_up")
                compare_counts(figures[1], rows, 3, "referrals_down")
                for column, figure in ((1, figures[0]), (2, figures[1])):
                    got = {r[0]: r[column] for r in alliance_rows if r[column]}
                    want = {
                        key[1]: int(f.numerator)
                        for key, f in figure.items()
                        if key[0] == "alliance" and not key[2] and f.numerator
                    }
                    assert got == want, "alliances"
            elif name.startswith("5"):
                compare_counts(figures[0], rows, 3, "decision_on_time")
            elif name.startswith("14"):
                team = {str(r[2]): r[4] for r in rows if r[2] is not None and r[4]}
                want = {
                    key[1]: int(f.numerator)
                    for key, f in figures[0].items()
                    if key[0] == "team" and f.numerator
                }
                assert team == want, "fulfilment"

    settings.DEBUG = True  # record queries
    User.objects.filter(username="bench-bureau").delete()
    bureau = User(username="bench-bureau", role=UserRole.BUREAU)
    bureau.set_password(settings.DEMO_PASSWORD)
    bureau.save()
    token, _ = api_token_issue(username="bench-bureau", password=settings.DEMO_PASSWORD)
    client = Client(HTTP_HOST="localhost", headers={"Authorization": f"Bearer {token}"})
    first = period
    for _ in range(23):  # the series reads 24 months: rebuild them, with quarters and years
        first = first.previous()
    started = time.perf_counter()
    rebuilt = rebuild_months(first, period)
    rebuild_24_s = time.perf_counter() - started
    print(f"24 months: {rebuild_24_s:.1f} s, {len(rebuilt)} periods", file=sys.stderr)
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
    pages = {
        "dashboard page, the month": ("/bureau/", {"period": MONTH}),
        "KPI page, fulfilment, every team": (
            "/bureau/kpi/fulfilment/",
            {"period": MONTH, "level": "team"},
        ),
    }
    session = Client(HTTP_HOST="localhost")
    session.force_login(bureau)
    # The reference: the same session's smallest request (authentication, no rollup read).
    pages = {"reference (GET /accounts/keepalive/)": ("/accounts/keepalive/", {}), **pages}
    scenarios = {**reads, **pages}
    client_of = {name: session if name in pages else client for name in scenarios}
    bodies: dict[str, Any] = {}
    queries_of: dict[str, int] = {}
    for name, (path, query) in scenarios.items():
        for _ in range(3):
            client_of[name].get(path, query)
    samples: dict[str, list[float]] = {name: [] for name in scenarios}
    for _ in range(REPEAT):  # interleaved rounds: the machine's load weighs on each alike
        for name, (path, query) in scenarios.items():
            reset_queries()
            started = time.perf_counter()
            response = client_of[name].get(path, query)
            samples[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code in (200, 204), response.content
            bodies[name] = response
            queries_of[name] = len(connection.queries)
    timings_of = {}
    for name, (path, _query) in scenarios.items():
        response = bodies[name]
        body = response.content
        if path.endswith(".csv"):
            row_count = body.count(b"\n")
        elif name in pages:
            row_count = body.count(b"<tr")
        else:
            row_count = len(_rows_of(response.json()))
        timings_of[name] = {
            **percentiles(samples[name]),
            "queries": queries_of[name],
            "rows": row_count,
        }
        print(
            f"{name}: p50 {timings_of[name]['p50']:.1f} ms, p95 {timings_of[name]['p95']:.1f}",
            file=sys.stderr,
        )
    return {
        "referrals": Referral.objects.count(),
        "followups": FollowUp.objects.count(),
        "encounters": Encounter.objects.count(),
        "contracts": Contract.objects.count(),
        "rebuild_ms": rebuild_ms,
        "hierarchy_ms": hierarchy_ms,
        "rebuild_rows": result.rows,
        "functions_ms": functions_total,
        "sql_ms": sql_total,
        "ratio": ratio,
        "unshared_ratio": unshared_ratio,
        "unshared_ms": unshared_ms,
        "rebuild_24_s": rebuild_24_s,
        "rebuild_24_periods": len(rebuilt),
        "rebuild_24_rows": sum(r.rows for r in rebuilt),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=20_000)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--referrals", type=int, default=60_000)
    parser.add_argument("--visits-per-resident", type=float, default=2.0)
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
    result = run(
        options.residents,
        options.referrals,
        database=options.database,
        visits_per_resident=options.visits_per_resident,
    )
    for figure, value, unit, note in result["rows"]:
        print(f"{figure}: {value} {unit} {note}")


if __name__ == "__main__":
    main()
