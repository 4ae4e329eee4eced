"""Scan endpoint throughput and latency: POST /api/v1/healthcodes/scan under 32 concurrent
clients, against gunicorn (sync workers) + PostgreSQL + Redis on 127.0.0.1.

Every request is a real scan of a distinct, fresh dynamic code (so the replay mark, the card
lookup, the ScanEvent, the audit row and, for registration, the Encounter are all written), by
32 scanner accounts at 8 institutions, purposes spread evenly. The rate limit is lifted
(bench/scan_settings.py); everything else is the production code path.

    python bench/bench_scan.py                  # prints the figures and a JSON line
    python bench/bench_scan.py --requests 2000 --workers 2
    from bench.bench_scan import run            # returns them as a dict for `make bench`

It uses its own database (BENCH_SCAN_DATABASE_URL, default .../healthnet_codes_bench, created
and migrated if missing) and Redis database (BENCH_SCAN_CACHE_URL, default db 14, flushed), starts
gunicorn itself on a free port, stops it at the end, and sends a bounded number of requests:
it always stops by itself. The load generator is Python threads on the same machine, so it
competes with the server for the CPU: the figures are a floor, not a ceiling.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get(
    "BENCH_SCAN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/healthnet_codes_bench"
)
CACHE_URL = os.environ.get("BENCH_SCAN_CACHE_URL", "redis://127.0.0.1:6379/14")
PURPOSES = ["registration", "consultation", "dispensing", "health_management"]
INSTITUTIONS = 8
CLIENTS = 32
RESIDENTS = 3000
# Dynamic codes live 60 s (+30 s skew): codes are issued just before the run, and the run is
# cut off before they expire.
MAX_RUN_SECONDS = 50.0


def _server_env(workers: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.scan_settings",
        HEALTHNET_ENV="development",
        DEBUG="false",
        DATABASE_URL=DATABASE_URL,
        CACHE_URL=CACHE_URL,
        DB_CONN_MAX_AGE="600",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        WEB_CONCURRENCY=str(workers),
    )
    return env


# --- inside Django (run as subprocesses with the bench environment) ----------------------------


def _django() -> None:
    import django

    django.setup()


def _ensure_database(*, fresh: bool = False) -> None:
    """Create the bench database if missing (dropped first when `fresh`)."""
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        if fresh:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def _migrate() -> None:
    """Migrate the bench database; if its history no longer matches the code (migrations were
    rewritten during development), start it over: it only holds bench data."""
    from django.core.management import call_command
    from django.db import connections
    from django.db.migrations.exceptions import InconsistentMigrationHistory

    try:
        call_command("migrate", verbosity=0, interactive=False)
    except InconsistentMigrationHistory:
        connections.close_all()
        _ensure_database(fresh=True)
        call_command("migrate", verbosity=0, interactive=False)


def _seed(residents: int) -> None:
    """Institutions, scanner accounts, residents with cards, signing keys. Idempotent."""
    import datetime as dt
    import secrets

    from django.conf import settings

    _migrate()
    from healthcodes.keys import healthcode_keys_rotate
    from healthcodes.models import HealthCard
    from healthnet.models import District, Institution, Resident, User, UserRole
    from healthnet.national_id import encrypt_national_id, make_national_id, national_id_hash

    District.objects.get_or_create(code="haibowan", defaults={"name": "海勃湾区"})
    institutions = [
        Institution.objects.get_or_create(
            code=f"bench-p-{n:02d}",
            defaults={
                "name": f"压测社区卫生服务中心{n}",
                "tier": "primary",
                "category": "community_health_center",
                "district_id": "haibowan",
                "is_sample_name": True,
            },
        )[0]
        for n in range(INSTITUTIONS)
    ]
    roles = [UserRole.CLERK, UserRole.DOCTOR, UserRole.PHARMACIST, UserRole.NURSE]
    for n in range(CLIENTS):
        username = f"bench-scanner-{n:02d}"
        if not User.objects.filter(username=username).exists():
            User.objects.create_user(
                username=username,
                password=settings.DEMO_PASSWORD,
                role=roles[n % len(roles)],
                institution=institutions[n % INSTITUTIONS],
            )
    have = Resident.objects.filter(registered_by__code__startswith="bench-p-").count()
    batch = []
    for n in range(have, residents):
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=n // 400)
        number = make_national_id(
            region_code="150302", birth_date=birth, sequence=n % 400, sex="male"
        )
        batch.append(
            Resident(
                national_id_encrypted=encrypt_national_id(number),
                national_id_hash=national_id_hash(number),
                name=f"压测居民{n}",
                sex="male" if (n % 400) % 2 else "female",
                birth_date=birth,
                district_id="haibowan",
                registered_by=institutions[n % INSTITUTIONS],
            )
        )
    Resident.objects.bulk_create(batch, batch_size=1000)
    now = dt.datetime.now(dt.UTC)
    without_card = Resident.objects.filter(registered_by__code__startswith="bench-p-").exclude(
        pk__in=HealthCard.objects.filter(revoked_at__isnull=True).values("resident_id")
    )
    HealthCard.objects.bulk_create(
        [
            HealthCard(resident=resident, sub=secrets.token_urlsafe(12), issued_at=now)
            for resident in without_card.only("pk")
        ],
        batch_size=1000,
    )
    healthcode_keys_rotate()


def _prepare(count: int, out: str) -> None:
    """Fresh bearer tokens for the scanners and `count` fresh dynamic codes, to a JSON file."""
    import datetime as dt

    from django.conf import settings
    from django.core.cache import cache

    from healthcodes import codec
    from healthcodes.keys import signing_key_current
    from healthcodes.models import HealthCard
    from healthnet.services import api_token_issue

    cache.clear()  # the bench's own Redis database: replay marks of earlier runs
    tokens = [
        api_token_issue(username=f"bench-scanner-{n:02d}", password=settings.DEMO_PASSWORD)[0]
        for n in range(CLIENTS)
    ]
    subs = list(
        HealthCard.objects.filter(
            revoked_at__isnull=True, resident__registered_by__code__startswith="bench-p-"
        ).values_list("sub", flat=True)
    )
    signing = signing_key_current()
    now = dt.datetime.now(dt.UTC)
    codes = [
        codec.issue_code(
            private_key=signing.private_key,
            kid=signing.kid,
            iss=signing.iss,
            sub=subs[n % len(subs)],
            code_type="dynamic",
            issued_at=now,
            lifetime_seconds=60,
        )
        for n in range(count)
    ]
    Path(out).write_text(json.dumps({"tokens": tokens, "codes": codes}), encoding="utf-8")


# --- outside Django: server and load -----------------------------------------------------------


def _run_django_step(args: list[str], workers: int) -> None:
    subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(Path(__file__).resolve()), *args],
        env=_server_env(workers),
        cwd=ROOT,
        check=True,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_gunicorn(port: int, workers: int) -> subprocess.Popen:
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--backlog",
            "256",
            "--log-level",
            "warning",
        ],
        env=_server_env(workers),
        cwd=ROOT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/.well-known/healthcode-keys.json")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    _stop(process)
    raise RuntimeError("gunicorn did not start within 30 s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _load(port: int, tokens: list[str], codes: list[str], clients: int) -> dict:
    """`clients` threads, each with its own scanner token, take the next code until none is left
    (or the codes would expire). Returns latencies and status counts."""
    lock = threading.Lock()
    next_index = [0]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    started = time.perf_counter()

    def client(n: int) -> None:
        headers = {
            "Authorization": f"Bearer {tokens[n % len(tokens)]}",
            "Content-Type": "application/json",
            "X-Device-Id": f"bench-device-{n}",
        }
        mine: list[float] = []
        seen: dict[int, int] = {}
        while True:
            with lock:
                index = next_index[0]
                next_index[0] += 1
            if index >= len(codes) or time.perf_counter() - started > MAX_RUN_SECONDS:
                break
            body = json.dumps({"code": codes[index], "purpose": PURPOSES[index % len(PURPOSES)]})
            begin = time.perf_counter()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("POST", "/api/v1/healthcodes/scan", body, headers)
                response = connection.getresponse()
                response.read()
                status = response.status
                connection.close()
            except OSError:
                status = 0
            mine.append(time.perf_counter() - begin)
            seen[status] = seen.get(status, 0) + 1
        with lock:
            latencies.extend(mine)
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"latencies": latencies, "statuses": statuses, "elapsed": elapsed}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(
    *, requests: int = 6000, workers: int = 4, clients: int = CLIENTS, warmup: int = 200
) -> dict:
    """Seed (idempotent), start gunicorn, warm up, send `requests` scans from `clients` threads,
    stop gunicorn. Returns requests/s, p50/p95/p99 latency and the status counts."""
    _run_django_step(["_seed", str(RESIDENTS)], workers)
    with tempfile.TemporaryDirectory() as folder:
        prepared = Path(folder) / "prepared.json"
        port = _free_port()
        server = _start_gunicorn(port, workers)
        try:
            _run_django_step(["_prepare", str(requests + warmup), str(prepared)], workers)
            data = json.loads(prepared.read_text(encoding="utf-8"))
            tokens, codes = data["tokens"], data["codes"]
            _load(port, tokens, codes[:warmup], clients)
            result = _load(port, tokens, codes[warmup:], clients)
        finally:
            _stop(server)
    latencies = result["latencies"]
    ok = result["statuses"].get(200, 0)
    per_s = len(latencies) / result["elapsed"]
    p50, p95, p99 = (_percentile(latencies, f) * 1000 for f in (0.5, 0.95, 0.99))
    statuses = {str(k): v for k, v in sorted(result["statuses"].items())}
    return {
        "title": "Scan endpoint (POST /api/v1/healthcodes/scan)",
        "rows": [
            ("scan requests per second", per_s, "req/s", f"{clients} clients, {workers} workers"),
            ("latency p50", p50, "ms", ""),
            ("latency p95", p95, "ms", ""),
            ("latency p99", p99, "ms", ""),
            ("requests", len(latencies), "", f"status counts {statuses}"),
            ("accepted (200)", ok, "", "every other status is an error of the run"),
        ],
        "notes": [
            "gunicorn sync workers + PostgreSQL + Redis on 127.0.0.1; each request a distinct "
            "fresh dynamic code, purposes spread evenly (registration writes an Encounter)",
            "the Python load generator runs on the same machine and shares its CPU: a floor",
            f"mean latency {statistics.fmean(latencies) * 1000:.1f} ms",
        ],
        "requests_per_s": per_s,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "statuses": statuses,
        "clients": clients,
        "workers": workers,
    }


def main(argv: list[str]) -> int:
    if argv and argv[0] == "_seed":
        _ensure_database()
        _django()
        _seed(int(argv[1]))
        return 0
    if argv and argv[0] == "_prepare":
        _django()
        _prepare(int(argv[1]), argv[2])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    options = parser.parse_args(argv)
    result = run(requests=options.requests, workers=options.workers, clients=options.clients)
    for figure, value, unit, note in result["rows"]:
        shown = f"{value:,.1f}" if isinstance(value, float) else value
        print(f"{figure}: {shown} {unit} {note}")
    print(json.dumps({k: v for k, v in result.items() if k not in ("rows", "notes", "title")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
