"""Benchmark: bulk contract import (228,800 rows) and contract-list latency on PostgreSQL.

    python bench/bench_signing.py [--rows 228800] [--database healthnet_signing] [--xlsx]

Drops and recreates the database, migrates, loads the Wuhai network, creates 92 teams
(demo/teams.py) and one resident per row (encrypted national ID + keyed hash, as the service
does), writes a CSV of existing contracts (2,487 per team, a sixth with a personalised package)
and times `signing.importer.contracts_import` on it: the first run (all rows land, follow-ups
generated) and a second run of the same file (a no-op). Then times the contract and follow-up
lists (/api/v1/contracts, /api/v1/follow-ups) end to end through Django's test client with a
bearer token, for a team member (one team: ~2,500 contracts) and an institution admin (all the
institution's teams), p50 / p95 over repeated requests. `run()` returns the figures for the
`make bench` driver (BENCH_SIGNING_ROWS sets the size). Not a test: nothing fails on a time.
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
ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
DEFAULT_DATABASE = "healthnet_signing"
ROWS = 228_800
REPEAT = 30
TODAY = "2026-11-29"


def run(rows: int | None = None, *, database: str = DEFAULT_DATABASE, xlsx: bool = False) -> dict:
    rows = rows or int(os.environ.get("BENCH_SIGNING_ROWS", str(ROWS)))
    url = recreate_database(database)
    env = {**os.environ, "DATABASE_URL": url, "HEALTHNET_ENV": "development"}
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "load_network", str(ROOT / "data" / "wuhai.yaml"))
    args = [sys.executable, __file__, "--child", f"--rows={rows}"]
    if xlsx:
        args.append("--xlsx")
    output = subprocess.run(  # noqa: S603 - our own script
        args, env=env, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True
    ).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    table = [
        ("rows in the file", figures["rows"], "rows", ""),
        ("setup: residents created", figures["setup_seconds"], "s", "not part of the import"),
        ("import (first run)", figures["import_seconds"], "s", f"{figures['created']:,} created"),
        ("import rate", figures["import_rows_per_second"], "rows/s", ""),
        ("follow-ups generated", figures["follow_ups"], "rows", "bulk, in the same run"),
        (
            "re-import of the same file",
            figures["reimport_seconds"],
            "s",
            f"{figures['reimport_created']} created, {figures['reimport_unchanged']:,} unchanged",
        ),
    ]
    if "xlsx_seconds" in figures:
        table.append(("XLSX read + no-op import", figures["xlsx_seconds"], "s", "read_only mode"))
    for name, stats in figures["latency"].items():
        table.append((f"{name} p50", stats["p50_ms"], "ms", f"{stats['queries']} SQL queries"))
        table.append((f"{name} p95", stats["p95_ms"], "ms", f"{stats['count']:,} rows listed"))
    return {
        "title": f"Family-doctor signing: import of {rows:,} contracts and contract lists",
        "rows": table,
        "notes": [
            "PostgreSQL; the import resolves residents by keyed national-ID hash in bulk, locks "
            "and counts the teams once per 5,000-row chunk, and writes contracts, package links "
            "and follow-ups with COPY.",
            "Latency: Django test client, bearer token, page_size 50, includes auth, the audit "
            "row, the count and the page.",
        ],
    }


# --- the child process: Django set up against the benchmark database ------------------------------


def _latency_only() -> dict:
    """Time the lists again on the database a previous run left (--latency-only)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    django.setup()
    from signing.models import FamilyDoctorTeam

    return {"latency": _latency(FamilyDoctorTeam.objects.order_by("code").first())}


def _child(rows: int, xlsx: bool) -> dict:
    import datetime as dt
    import random
    import tempfile

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.db import connection

    from demo.teams import generate_teams
    from healthnet.models import Institution, Resident, ResidentPopulationTag, Tier
    from healthnet.national_id import encrypt_national_id, make_national_id, national_id_hash
    from signing.catalogue import service_packages_load
    from signing.importer import contracts_import

    today = dt.date.fromisoformat(TODAY)
    service_packages_load()
    primaries = list(Institution.objects.filter(tier=Tier.PRIMARY).order_by("code"))
    teams, _, _ = generate_teams(primaries, random.Random(1))
    teams.sort(key=lambda t: t.code)

    started = time.perf_counter()
    numbers: list[str] = []
    batch: list[Resident] = []
    tagged: list[int] = []
    for i in range(rows):
        # stdnum knows 150302 (海勃湾区) for births from 1983 on: adults born 1983–2006
        birth = dt.date(1983, 1, 1) + dt.timedelta(days=i % 8700)
        number = make_national_id(
            region_code="150302", birth_date=birth, sequence=i // 8700, sex="male"
        )
        numbers.append(number)
        batch.append(
            Resident(
                national_id_encrypted=encrypt_national_id(number),
                national_id_hash=national_id_hash(number),
                name=f"居民{i}",
                sex="male",
                birth_date=birth,
                district_id=teams[i % len(teams)].institution.district_id,
            )
        )
        if len(batch) == 5000:
            Resident.objects.bulk_create(batch)
            tagged += [r.pk for j, r in enumerate(batch) if j % 6 == 0]
            batch = []
    if batch:
        Resident.objects.bulk_create(batch)
        tagged += [r.pk for j, r in enumerate(batch) if j % 6 == 0]
    ResidentPopulationTag.objects.bulk_create(
        [ResidentPopulationTag(resident_id=pk, population="hypertension") for pk in tagged],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    setup_seconds = time.perf_counter() - started

    folder = Path(tempfile.mkdtemp(prefix="bench-signing-"))
    path = folder / "contracts.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("national_id,team_code,start_date,end_date,packages,signed_method\n")
        for i, number in enumerate(numbers):
            start = today - dt.timedelta(days=i % 300)
            packages = "hypertension" if (i % 5000) % 6 == 0 else ""
            method = "e_signature" if i % 3 == 0 else "in_person"
            out.write(f"{number},{teams[i % len(teams)].code},{start},,{packages},{method}\n")

    started = time.perf_counter()
    with path.open("rb") as handle:
        report = contracts_import(actor=None, file=handle, filename=path.name, today=today)
    import_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with path.open("rb") as handle:
        again = contracts_import(actor=None, file=handle, filename=path.name, today=today)
    reimport_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    figures = {
        "rows": rows,
        "setup_seconds": round(setup_seconds, 1),
        "import_seconds": round(import_seconds, 1),
        "import_rows_per_second": round(rows / import_seconds),
        "created": report.created,
        "errors": len(report.errors),
        "first_errors": [e.__dict__ for e in report.errors[:5]],
        "follow_ups": report.follow_ups,
        "reimport_seconds": round(reimport_seconds, 1),
        "reimport_created": again.created,
        "reimport_unchanged": again.unchanged,
    }
    if xlsx:
        figures["xlsx_seconds"] = _xlsx_reimport(path, today)
    figures["latency"] = _latency(teams[0])
    return figures


def _xlsx_reimport(csv_path: Path, today) -> float:
    import csv

    from openpyxl import Workbook

    from signing.importer import contracts_import

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    with csv_path.open(encoding="utf-8") as handle:
        for row in csv.reader(handle):
            sheet.append(row)
    xlsx_path = csv_path.with_suffix(".xlsx")
    workbook.save(xlsx_path)
    started = time.perf_counter()
    with xlsx_path.open("rb") as handle:
        contracts_import(actor=None, file=handle, filename=xlsx_path.name, today=today)
    return round(time.perf_counter() - started, 1)


def _latency(team) -> dict:
    from django.conf import settings
    from django.db import connection, reset_queries
    from django.test import Client

    from healthnet.models import Practitioner, User, UserRole
    from healthnet.services import api_token_issue
    from signing.models import TeamMember

    settings.DEBUG = True  # to count queries
    User.objects.filter(username__startswith="bench-").delete()
    # A GP of this one team only (the demo's staff may serve several teams of a centre).
    practitioner = Practitioner.objects.create(name="基准医生", sex="female")
    TeamMember.objects.create(team=team, practitioner=practitioner, role="gp")
    gp = User.objects.create_user(
        username="bench-gp",
        password=settings.DEMO_PASSWORD,
        role=UserRole.DOCTOR,
        institution=team.institution,
        practitioner=practitioner,
    )
    admin = User.objects.create_user(
        username="bench-admin",
        password=settings.DEMO_PASSWORD,
        role=UserRole.INSTITUTION_ADMIN,
        institution=team.institution,
    )
    cases: dict[str, tuple[User, str, dict[str, Any]]] = {  # (who, path, query)
        "contracts, team member": (gp, "/api/v1/contracts", {}),
        "contracts, team member, hypertension": (
            gp,
            "/api/v1/contracts",
            {"key_population": "hypertension"},
        ),
        "contracts, team member, expiring in 30 d": (
            gp,
            "/api/v1/contracts",
            {"expiring_within": 30},
        ),
        "contracts, team member, page 20": (gp, "/api/v1/contracts", {"page": 20}),
        "contracts, institution admin": (admin, "/api/v1/contracts", {}),
        "follow-ups due, team member": (gp, "/api/v1/follow-ups", {}),
    }
    results = {}
    for name, (user, path, params) in cases.items():
        token, _ = api_token_issue(username=user.username, password=settings.DEMO_PASSWORD)
        client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
        client.get(path, params)  # warm up
        timings = []
        queries = 0
        count = 0
        for _ in range(REPEAT):
            reset_queries()
            started = time.perf_counter()
            response = client.get(path, params)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content[:300]
            queries = len(connection.queries)
            count = response.json()["count"]
        timings.sort()
        results[name] = {
            "p50_ms": round(statistics.median(timings), 1),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 1),
            "queries": queries,
            "count": count,
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--xlsx", action="store_true", help="also time an XLSX of the same rows")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--latency-only", action="store_true", help="only the list timings, on the existing DB"
    )
    args = parser.parse_args()
    if args.latency_only:
        os.environ["DATABASE_URL"] = ADMIN_URL.rsplit("/", 1)[0] + f"/{args.database}"
        print(json.dumps(_latency_only(), indent=1))
        return
    if args.child:
        print(json.dumps(_child(args.rows, args.xlsx)))
        return
    result = run(args.rows, database=args.database, xlsx=args.xlsx)
    print(result["title"])
    for figure, value, unit, note in result["rows"]:
        print(f"  {figure:<45} {value:>12,} {unit:<7} {note}")


if __name__ == "__main__":
    main()
