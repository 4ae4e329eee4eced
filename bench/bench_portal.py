"""Benchmark: the portal's referral pages (issue 10 pages 2 and 3), server render time.

    python bench/bench_portal.py [--residents 20000] [--referrals 20000] [--database hn_portal]

Drops and recreates the database, migrates, loads the Wuhai network, generates demo residents
(generate_demo) and about `--referrals` referrals (demo/referrals.py, its rate raised), then
times, through Django's test client in one process (session login, middleware, the page rule,
the selector, the audit row, the template), in interleaved rounds so that a noisy neighbour
slows all alike:

- the reference: GET /accounts/keepalive/ by the same login (session and user, no page): the
  fixed cost every portal request pays;
- the incoming worklist of the busiest receiver (乌海市人民医院), page 1 and filtered
  `?status=submitted` (the workbench's 待我决定 link);
- the referral page of a submitted referral (its accept / reject / redirect forms, the redirect
  targets) and of an accepted one (the schedule form with its days of free slots);
- the scan station (page 5): a POST of a fresh valid code by the hospital's clerk, the whole
  scan and the page with the day's log (no JavaScript: the full page).

Each figure: p50 / p95 ms, min–max, and the ratio of its median to the reference's median in the
same run. The city's scale (560,000 residents, 100,000+ referrals) takes longer than the 5
minutes this benchmark may use to build its data: the default is smaller (BENCH_PORTAL_RESIDENTS,
BENCH_PORTAL_REFERRALS); the worklist reads by index (bench_referrals measures the API at 100k).
Not a test: nothing fails on a time.
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
from bench.support import manage, percentiles, recreate_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "hn_portal"  # this benchmark's own database (dropped and made anew)
SEED = 20261130
TODAY = "2026-11-30"
RESIDENTS = 20_000
REFERRALS = 20_000
ROUNDS = 40


def run(
    residents: int | None = None,
    referrals: int | None = None,
    *,
    database: str = DEFAULT_DATABASE,
) -> dict:
    residents = residents or int(os.environ.get("BENCH_PORTAL_RESIDENTS", str(RESIDENTS)))
    referrals = referrals or int(os.environ.get("BENCH_PORTAL_REFERRALS", str(REFERRALS)))
    url = recreate_database(database)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "HEALTHNET_ENV": "development",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "testserver",
        "DEBUG": "false",
    }
    started = time.perf_counter()
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "load_network", str(ROOT / "data" / "wuhai.yaml"))
    manage(
        env,
        "generate_demo",
        f"--residents={residents}",
        f"--seed={SEED}",
        f"--today={TODAY}",
        "--encounters-per-resident=1",
        "--no-progress",
    )
    _stage(env, "seed", str(referrals))
    built = time.perf_counter() - started
    f = json.loads(_stage(env, "measure"))
    rows = [
        ("referrals", f["referrals"], "rows", f"{f['incoming']:,} into the measured hospital"),
        ("data built in", built, "s", f"{residents:,} residents"),
    ]
    reference = f["scenarios"]["reference"]
    for name, s in f["scenarios"].items():
        rows.append(
            (
                f"{name}: p50 / p95",
                f"{s['p50']:.1f} / {s['p95']:.1f}",
                "ms",
                f"min–max {s['min']:.1f}–{s['max']:.1f} ms, {s['queries']} queries"
                + ("" if name == "reference" else f", ×{s['p50'] / reference['p50']:.1f} ref"),
            )
        )
    return {
        "title": f"Portal referral pages at {f['referrals']:,} referrals (server render)",
        "rows": rows,
        "notes": [
            f"{ROUNDS} interleaved rounds after 3 warm-ups; each round requests every page once. "
            "Django test client in one process (the server's time, no network); DEBUG off.",
            "×ref: the page's median over the median of GET /accounts/keepalive/ (session and "
            "user only) in the same run.",
            "Smaller than the city (560,000 residents): building the city's data takes longer "
            "than this benchmark's 5 minutes; the worklist's query reads by index and is flat "
            "in the list size (tests/portal/test_referral_pages.py).",
        ],
    }


# --- stages run in a subprocess with DATABASE_URL set ------------------------------------------


def _seed(target: int) -> dict:
    import datetime as dt

    from django.db import connection

    from demo.referrals import generate_referrals
    from healthnet.models import Resident

    with connection.cursor() as cursor:  # generate_demo's own referrals: replaced
        cursor.execute(
            "TRUNCATE referrals_referralevent, referrals_referral, referrals_departmentdayslots "
            "RESTART IDENTITY CASCADE"
        )
    rate = target / Resident.objects.count() / 1.25  # the demo adds ~25% (down, redirects)
    # Another seed than generate_demo's: the same one would draw the same public ids for the
    # visits the referrals' arrivals record, which generate_demo already wrote.
    counts = generate_referrals(
        seed=SEED + 1,
        today=dt.date.fromisoformat(TODAY),
        log=lambda _: None,
        up_per_resident_year=rate,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE referrals_referral, referrals_referralevent")
    return counts


def _measure() -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from healthnet.models import Institution, User, UserRole
    from referrals.models import Referral, ReferralStatus

    hospital = Institution.objects.get(code="wh-t-renmin")
    office, _ = User.objects.get_or_create(
        username="bench-portal-office",
        defaults={"role": UserRole.REFERRAL_COORDINATOR, "institution": hospital},
    )
    client = Client()
    client.force_login(office)
    incoming = Referral.objects.filter(to_institution=hospital)

    def detail(status: str) -> str:
        referral = incoming.filter(status=status).order_by("pk").first()
        if referral is None:
            referral = incoming.order_by("pk").first()
        if referral is None:
            raise RuntimeError("no referrals into the hospital: generate the demo data first")
        return f"/referrals/{referral.public_id}/"

    scenarios = {
        "reference": "/accounts/keepalive/",
        "incoming worklist, page 1": "/referrals/incoming/",
        "incoming worklist, ?status=submitted": "/referrals/incoming/?status=submitted",
        "referral page, submitted": detail(ReferralStatus.SUBMITTED),
        "referral page, accepted (schedule form)": detail(ReferralStatus.ACCEPTED),
    }
    requests = {name: (lambda path=path: client.get(path)) for name, path in scenarios.items()}
    requests["scan station, POST of a valid code"] = _scan_station(hospital)
    timings: dict[str, list[float]] = {name: [] for name in requests}
    queries: dict[str, int] = {}
    for name, request in requests.items():
        for _ in range(3):
            request()
        with CaptureQueriesContext(connection) as captured:
            response = request()
        assert response.status_code in (200, 204), (name, response.status_code)
        queries[name] = len(captured)
    for _ in range(ROUNDS):
        for name, request in requests.items():
            started = time.perf_counter()
            request()
            timings[name].append((time.perf_counter() - started) * 1000)
    results = {}
    for name, samples in timings.items():
        results[name] = {**percentiles(samples), "queries": queries[name]}
        print(f"{name}: p50 {results[name]['p50']:.1f} ms", file=sys.stderr)
    return {
        "referrals": Referral.objects.count(),
        "incoming": incoming.count(),
        "scenarios": results,
    }


def _scan_station(hospital):
    """The scan station (issue 10 page 5): its clerk POSTs a fresh dynamic code of a resident
    (as the phone shows it; a distinct code each time, purposes in turn) to /scan/ without htmx:
    the whole scan service and the page with the day's log. The rate limit is lifted."""
    import itertools

    from django.conf import settings
    from django.test import Client
    from django.utils import timezone

    from healthcodes import codec
    from healthcodes.keys import healthcode_keys_rotate, signing_key_current
    from healthcodes.services import healthcard_current_or_issue
    from healthnet.models import Resident, User, UserRole

    settings.HEALTHCODE_SCAN_RATE_LIMIT = 10**9
    clerk, _ = User.objects.get_or_create(
        username="bench-portal-clerk", defaults={"role": UserRole.CLERK, "institution": hospital}
    )
    client = Client()
    client.force_login(clerk)
    healthcode_keys_rotate()
    signing = signing_key_current()
    cards = [
        healthcard_current_or_issue(actor=None, resident=resident)
        for resident in Resident.objects.order_by("pk")[:50]
    ]
    purposes = itertools.cycle(["registration", "consultation", "dispensing", "health_management"])
    count = itertools.count()

    def scan():
        code = codec.issue_code(
            private_key=signing.private_key,
            kid=signing.kid,
            iss=signing.iss,
            sub=cards[next(count) % len(cards)].sub,
            code_type="dynamic",
            issued_at=timezone.now(),
            lifetime_seconds=60,
        )
        return client.post("/scan/", {"code": code, "purpose": next(purposes)})

    return scan


def _stage(env: dict, name: str, *args: str) -> str:
    output = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(Path(__file__).resolve()), "--stage", name, *args],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return output.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=None)
    parser.add_argument("--referrals", type=int, default=None)
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
    result = run(options.residents, options.referrals, database=options.database)
    for figure, value, unit, note in result["rows"]:
        print(f"{figure}: {value} {unit} {note}")


if __name__ == "__main__":
    main()
