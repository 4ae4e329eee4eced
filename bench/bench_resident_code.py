"""Benchmark: the resident's code page refresh (GET /me/code/live/, issue 11) on PostgreSQL + Redis.

    python bench/bench_resident_code.py [--requests 300] [--database hn_resident]

Drops and recreates the database, migrates, makes one institution and one resident with a login,
then times the polled code region through Django's test client (session cookie, htmx headers,
`Accept-Encoding: gzip`), in-process, so the figure is the server's time: middleware, session,
auth, the page rule, the card, the code, the cached SVG, the template, gzip.

- every poll a new code: each request in its own 30-s window (time-machine), as a phone polling
  every 30 s sees it: the code is signed (ES256) and its QR rendered once;
- a repeat inside the window (a retry, a second tab): the cached code and SVG.

Bytes per refresh are the response body on the wire (gzip) and before compression. Not a test:
nothing fails on a time. BENCH_RESIDENT_REQUESTS sets the count; the cache is Redis db 11 unless
CACHE_URL says otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script (its stages): the repository on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support import percentiles, recreate_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "hn_resident"  # this branch's database (it is dropped and made anew)
CACHE_URL = os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/11")
REQUESTS = 300


def run(requests: int | None = None, *, database: str = DEFAULT_DATABASE) -> dict:
    requests = requests or int(os.environ.get("BENCH_RESIDENT_REQUESTS", str(REQUESTS)))
    url = recreate_database(database)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CACHE_URL": CACHE_URL,
        "HEALTHNET_ENV": "development",
        "LOG_LEVEL": "WARNING",
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
    new, repeat = f["new_code"], f["repeat"]
    return {
        "title": "Resident code page refresh (GET /me/code/live/, PostgreSQL + Redis)",
        "rows": [
            ("new code each poll: p50 / p95", f"{new['p50']:.1f} / {new['p95']:.1f}", "ms", ""),
            (
                "repeat within 30 s: p50 / p95",
                f"{repeat['p50']:.1f} / {repeat['p95']:.1f}",
                "ms",
                "",
            ),
            ("bytes per refresh (gzip, on the wire)", f["bytes_gzip"], "B", "median"),
            ("bytes per refresh (uncompressed)", f["bytes_raw"], "B", "median"),
            ("SQL queries per refresh", f["queries"], "", "session, user, resident, card"),
            ("requests timed", requests, "", "each kind"),
        ],
        "notes": [
            "Django test client in one process: the server's time without the network. Each "
            "new-code poll signs one ES256 code and renders its QR once (then cached by the "
            "code's hash for its life).",
            "The whole page (GET /me/code/) is loaded once; every later refresh is this region.",
        ],
    }


# --- in the child process, with DATABASE_URL set ------------------------------------------------


def _child(requests: int) -> dict:
    import time_machine
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from healthnet.models import District, Institution, Resident, User, UserRole
    from healthnet.national_id import encrypt_national_id, make_national_id, national_id_hash

    cache.clear()
    district, _ = District.objects.get_or_create(
        code="haibowan", defaults={"name": "海勃湾区", "population": 300_000}
    )
    institution = Institution.objects.create(
        code="bench-p",
        name="新华社区卫生服务中心",
        tier="primary",
        category="chc",
        district=district,
    )
    number = make_national_id(
        region_code="150302", birth_date=dt.date(1950, 3, 1), sequence=7, sex="female"
    )
    resident = Resident.objects.create(
        national_id_encrypted=encrypt_national_id(number),
        national_id_hash=national_id_hash(number),
        name="张桂兰",
        sex="female",
        birth_date=dt.date(1950, 3, 1),
        phone="13912345678",
        district=district,
        registered_by=institution,
    )
    user = User.objects.create(username="bench-resident", role=UserRole.RESIDENT, resident=resident)
    client = Client(headers={"HX-Request": "true", "X-HealthNet-Poll": "1"})
    client.force_login(user)
    start = timezone.now().replace(microsecond=0)
    client.get("/me/code/")  # the page once: the card is issued, the keys made

    def poll(at: dt.datetime) -> tuple[float, int, int]:
        with time_machine.travel(at, tick=False):
            began = time.perf_counter()
            response = client.get("/me/code/live/", HTTP_ACCEPT_ENCODING="gzip")
            took = (time.perf_counter() - began) * 1000
        assert response.status_code == 200, response.status_code
        import gzip

        return took, len(response.content), len(gzip.decompress(response.content))

    for warm in range(5):
        poll(start + dt.timedelta(seconds=30 * (warm + 1)))
    new_code, repeat, sizes, raw = [], [], [], []
    base = start + dt.timedelta(minutes=10)
    for index in range(requests):
        window = base + dt.timedelta(seconds=30 * index)
        took, wire, plain = poll(window)
        new_code.append(took)
        sizes.append(wire)
        raw.append(plain)
        repeat.append(poll(window + dt.timedelta(seconds=5))[0])
    with CaptureQueriesContext(connection) as queries:
        poll(base + dt.timedelta(seconds=30 * requests + 5))
    return {
        "new_code": percentiles(new_code),
        "repeat": percentiles(repeat),
        "bytes_gzip": int(statistics.median(sizes)),
        "bytes_raw": int(statistics.median(raw)),
        "queries": len(queries.captured_queries),
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
