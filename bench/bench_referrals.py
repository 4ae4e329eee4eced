"""Benchmark: referral worklist latency at 100,000 referrals on PostgreSQL.

    python bench/bench_referrals.py [--referrals 100000] [--database healthnet_referrals]

Drops and recreates the database, migrates, loads the Wuhai network, generates demo residents
and visits (generate_demo) and then about `--referrals` referrals through demo/referrals.py with a
raised rate, and times the worklist API (/api/v1/referrals) end to end through Django's test
client with a bearer token: authentication, the audit row, the count and the page. Prints p50 /
p95 milliseconds and the SQL query count per request. `run()` returns the figures for the
`make bench` driver (BENCH_REFERRALS sets the size). Not a test: nothing fails on a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script (its stages): the repository on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support import manage, recreate_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "healthnet_referrals"
SEED = 20261129
TODAY = "2026-11-29"
RESIDENTS = 60_000
REPEAT = 40


def run(referrals: int | None = None, *, database: str = DEFAULT_DATABASE) -> dict:
    referrals = referrals or int(os.environ.get("BENCH_REFERRALS", "100000"))
    url = recreate_database(database)
    env = {**os.environ, "DATABASE_URL": url, "HEALTHNET_ENV": "development"}
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "load_network", str(ROOT / "data" / "wuhai.yaml"))
    started = time.perf_counter()
    manage(
        env,
        "generate_demo",
        f"--residents={RESIDENTS}",
        f"--seed={SEED}",
        f"--today={TODAY}",
        "--encounters-per-resident=1",
        "--no-progress",
    )
    seeded = json.loads(_stage(env, "seed", str(referrals)))
    seconds = time.perf_counter() - started
    figures = json.loads(_stage(env, "measure"))
    rows = [
        ("referrals", figures["referrals"], "rows", "in the database"),
        ("referral events", figures["events"], "rows", ""),
        ("data generation", seconds, "s", f"{seeded['referrals']:,} referrals added by the demo"),
    ]
    for name, result in figures["scenarios"].items():
        rows.append(
            (
                f"{name}: p50 / p95",
                f"{result['p50']:.1f} / {result['p95']:.1f}",
                "ms",
                f"{result['queries']} queries, count {result['count']:,}",
            )
        )
    return {
        "title": f"Referral worklists at {figures['referrals']:,} referrals (PostgreSQL)",
        "rows": rows,
        "notes": [
            f"{REPEAT} requests per scenario after 3 warm-ups, through the full API stack "
            "(token auth, audit row, COUNT and one page of 50 with its joins).",
            "Busiest receiver: 乌海市人民医院 (incoming); busiest referrer (outgoing).",
        ],
    }


# --- stages run in a subprocess with DATABASE_URL set ------------------------------------------


def _seed(target: int) -> dict:
    import datetime as dt

    from django.db import connection

    from demo.referrals import generate_referrals
    from healthnet.models import Resident

    with connection.cursor() as cursor:  # generate_demo's own year of referrals: replaced
        cursor.execute(
            "TRUNCATE referrals_referralevent, referrals_referral, referrals_departmentdayslots "
            "RESTART IDENTITY CASCADE"
        )
    residents = Resident.objects.count()
    # the demo adds up referrals at `rate` per resident plus about 25% more (down, redirects)
    rate = target / residents / 1.25
    counts = generate_referrals(
        seed=SEED, today=dt.date.fromisoformat(TODAY), log=print, up_per_resident_year=rate
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE referrals_referral, referrals_referralevent")
    return counts


def _measure() -> dict:
    from django.conf import settings
    from django.db import connection, reset_queries
    from django.db.models import Count
    from django.test import Client

    from healthnet.models import Institution, User, UserRole
    from healthnet.services import api_token_issue
    from referrals.models import Referral, ReferralEvent

    settings.DEBUG = True  # record queries
    receiver = Institution.objects.get(code="wh-t-renmin")
    busiest = (
        Referral.objects.values("from_institution").annotate(n=Count("pk")).order_by("-n").first()
    )
    some = Referral.objects.filter(to_institution=receiver).order_by("pk").first()
    if busiest is None or some is None:
        raise RuntimeError("no referrals to measure: generate the demo data first")
    referrer = Institution.objects.get(pk=busiest["from_institution"])

    def user(username: str, role: str, institution: Institution) -> Client:
        account, _ = User.objects.get_or_create(
            username=username, defaults={"role": role, "institution": institution}
        )
        account.set_password(settings.DEMO_PASSWORD)
        account.save()
        token, _ = api_token_issue(username=username, password=settings.DEMO_PASSWORD)
        return Client(HTTP_HOST="localhost", headers={"Authorization": f"Bearer {token}"})

    office = user("bench-office", UserRole.REFERRAL_COORDINATOR, receiver)
    doctor = user("bench-doctor", UserRole.DOCTOR, referrer)
    incoming = Referral.objects.filter(to_institution=receiver).count()
    last_page = max(1, -(-incoming // 50))
    scenarios: dict[str, tuple[Client, str, dict[str, Any]]] = {  # (who, path, query)
        "incoming, page 1": (office, "/api/v1/referrals", {"box": "incoming"}),
        "incoming, last page": (
            office,
            "/api/v1/referrals",
            {"box": "incoming", "page": last_page},
        ),
        "incoming, overdue": (office, "/api/v1/referrals", {"box": "incoming", "overdue": "true"}),
        "incoming, submitted + urgent": (
            office,
            "/api/v1/referrals",
            {"box": "incoming", "status": "submitted", "urgency": "urgent"},
        ),
        "outgoing, page 1": (doctor, "/api/v1/referrals", {"box": "outgoing"}),
        "detail with timeline": (office, f"/api/v1/referrals/{some.public_id}", {}),
    }
    results = {}
    for name, (client, path, query) in scenarios.items():
        for _ in range(3):
            client.get(path, query)
        timings = []
        for _ in range(REPEAT):
            reset_queries()
            started = time.perf_counter()
            response = client.get(path, query)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content
        body = response.json()
        timings.sort()
        results[name] = {
            "p50": statistics.median(timings),
            "p95": timings[int(len(timings) * 0.95) - 1],
            "queries": len(connection.queries),
            "count": body.get("count", len(body.get("timeline", []))),
        }
        print(f"{name}: p50 {results[name]['p50']:.1f} ms, p95 {results[name]['p95']:.1f} ms")
    return {
        "referrals": Referral.objects.count(),
        "events": ReferralEvent.objects.count(),
        "scenarios": results,
    }


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
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
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
    result = run(options.referrals, database=options.database)
    for figure, value, unit, note in result["rows"]:
        print(f"{figure}: {value} {unit} {note}")


if __name__ == "__main__":
    main()
