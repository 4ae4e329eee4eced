"""Benchmark: the scan station's server render (POST /scan/ of a valid code, portal issue 10
page 5) on PostgreSQL + Redis.

    python bench/bench_scan_station.py [--requests 300] [--database hn_scan_station]

Drops and recreates the database, migrates, makes one institution with a clerk and residents
with cards, then times the station's POST through Django's test client, in-process, so the
figure is the server's time: middleware, session, auth, the page rule, the whole scan service
(verify, card, replay mark, ScanEvent, Encounter for registration, referrals awaiting arrival,
audit row, summary) and the template with the day's log (up to 50 rows, full after 50 scans):

- without htmx: the whole page, as a desk without JavaScript gets it;
- with htmx: the result card and the log only (what the station swaps).

Each request is a distinct fresh dynamic code (signed with the current key, as the resident's
phone shows it) of one of the residents, purposes spread evenly; the scan rate limit is lifted
(a desk is never that fast). Not a test: nothing fails on a time. BENCH_SCAN_STATION_REQUESTS
sets the count; the cache is Redis db 9 unless BENCH_SCAN_STATION_CACHE_URL says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script (its stages): the repository on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support import percentiles, recreate_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "hn_scan_station"  # dropped and made anew
CACHE_URL = os.environ.get("BENCH_SCAN_STATION_CACHE_URL", "redis://127.0.0.1:6379/9")
REQUESTS = 300
RESIDENTS = 200
PURPOSES = ["registration", "consultation", "dispensing", "health_management"]


def run(requests: int | None = None, *, database: str = DEFAULT_DATABASE) -> dict:
    requests = requests or int(os.environ.get("BENCH_SCAN_STATION_REQUESTS", str(REQUESTS)))
    url = recreate_database(database)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CACHE_URL": CACHE_URL,
        "HEALTHNET_ENV": "development",
        "LOG_LEVEL": "ERROR",  # refusals would be logged; there should be none
        "ALLOWED_HOSTS": "testserver",  # Django's test client
        "DEBUG": "false",  # as in production: no query log
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True
    )
    output = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, __file__, "--child", f"--requests={requests}"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    f = json.loads(output.strip().splitlines()[-1])
    page, partial = f["page"], f["partial"]
    return {
        "title": "Scan station render (POST /scan/ of a valid code, PostgreSQL + Redis)",
        "rows": [
            (
                "whole page (no JavaScript): p50 / p95",
                f"{page['p50']:.1f} / {page['p95']:.1f}",
                "ms",
                "",
            ),
            (
                "htmx result card + log: p50 / p95",
                f"{partial['p50']:.1f} / {partial['p95']:.1f}",
                "ms",
                "",
            ),
            ("SQL queries per scan (htmx)", f["queries"], "", "log full (50 rows)"),
            ("accepted", f["accepted"], "", f"of {2 * requests} timed"),
            ("requests timed", requests, "", "each kind"),
        ],
        "notes": [
            "Django test client in one process: the server's time without the network. Each "
            "request scans a distinct fresh dynamic code through healthcodes.services."
            "healthcode_scan (the API's scan) and renders the result and the day's log.",
        ],
    }


# --- in the child process, with DATABASE_URL set ------------------------------------------------


def _child(requests: int) -> dict:
    import datetime as dt
    import secrets

    from django.core.cache import cache
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from healthcodes import codec
    from healthcodes.keys import healthcode_keys_rotate, signing_key_current
    from healthcodes.models import HealthCard
    from healthnet.models import District, Institution, Resident, User, UserRole
    from healthnet.national_id import encrypt_national_id, make_national_id, national_id_hash

    cache.clear()
    district, _ = District.objects.get_or_create(code="haibowan", defaults={"name": "海勃湾区"})
    institution = Institution.objects.create(
        code="bench-p",
        name="新华社区卫生服务中心",
        tier="primary",
        category="chc",
        district=district,
    )
    clerk = User.objects.create(
        username="bench-clerk", role=UserRole.CLERK, institution=institution
    )
    residents = []
    for n in range(RESIDENTS):
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=n * 37)
        number = make_national_id(region_code="150302", birth_date=birth, sequence=n, sex="male")
        residents.append(
            Resident(
                national_id_encrypted=encrypt_national_id(number),
                national_id_hash=national_id_hash(number),
                name=f"压测居民{n}",
                sex="male",
                birth_date=birth,
                district=district,
                registered_by=institution,
            )
        )
    Resident.objects.bulk_create(residents)
    now = timezone.now()
    cards = HealthCard.objects.bulk_create(
        [
            HealthCard(resident=r, sub=secrets.token_urlsafe(12), issued_at=now)
            for r in Resident.objects.all()
        ]
    )
    healthcode_keys_rotate()
    signing = signing_key_current()
    counter = iter(range(10**9))

    def fresh_code() -> str:
        n = next(counter)
        return codec.issue_code(
            private_key=signing.private_key,
            kid=signing.kid,
            iss=signing.iss,
            sub=cards[n % len(cards)].sub,
            code_type="dynamic",
            issued_at=timezone.now(),
            lifetime_seconds=60,
        )

    page_client = Client()
    page_client.force_login(clerk)
    htmx_client = Client(headers={"HX-Request": "true"})
    htmx_client.force_login(clerk)
    accepted = 0

    def scan(client: Client) -> float:
        nonlocal accepted
        n = next(counter)
        body = {"code": fresh_code(), "purpose": PURPOSES[n % len(PURPOSES)]}
        began = time.perf_counter()
        response = client.post("/scan/", body)
        took = (time.perf_counter() - began) * 1000
        assert response.status_code == 200, response.status_code
        accepted += "scan-result--accepted" in response.content.decode()
        return took

    with override_settings(HEALTHCODE_SCAN_RATE_LIMIT=10**9):
        for _ in range(60):  # warm up, and fill the day's log past its 50 rows
            scan(htmx_client)
        accepted = 0
        page = [scan(page_client) for _ in range(requests)]
        partial = [scan(htmx_client) for _ in range(requests)]
        with CaptureQueriesContext(connection) as queries:
            scan(htmx_client)
    return {
        "page": percentiles(page),
        "partial": percentiles(partial),
        "queries": len(queries.captured_queries),
        "accepted": accepted - 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        print(json.dumps(_child(args.requests or REQUESTS)))
        return
    result = run(args.requests, database=args.database)
    for name, value, unit, note in result["rows"]:
        print(f"{name}: {value} {unit} {note}")


if __name__ == "__main__":
    main()
