"""Benchmark: the demo generator at city scale on a fresh PostgreSQL database.

    python bench/bench_generate.py [--residents 560000] [--database healthnet_bench]

Drops and recreates the database, migrates, loads the Wuhai network (data/wuhai.yaml through
load_network when present, else a minimal 1+5+4+16 network made here), then times
`manage.py generate_demo` and prints seconds and rows/s per stage. `run(residents)` returns the
same figures as a dict for the `make bench` driver. A benchmark, not a test: nothing here fails
on a wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script (its stages): the repository on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support import manage, recreate_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "healthnet_bench"
SEED = 20261129
TODAY = "2026-11-29"


def run(
    residents: int = 560_000,
    *,
    database: str = DEFAULT_DATABASE,
    seed: int = SEED,
    today: str = TODAY,
    encounters_per_resident: float | None = None,
) -> dict:
    """Generate `residents` residents on a fresh database; return the generator's summary plus
    the wall-clock time of the command."""
    url = recreate_database(database)
    env = {**os.environ, "DATABASE_URL": url, "HEALTHNET_ENV": "development"}
    manage(env, "migrate", "--noinput", "-v0")
    network_source = _load_network(env)

    with tempfile.TemporaryDirectory() as folder:
        summary_path = Path(folder) / "summary.json"
        command = [
            "generate_demo",
            f"--residents={residents}",
            f"--seed={seed}",
            f"--today={today}",
            f"--summary-json={summary_path}",
        ]
        if encounters_per_resident is not None:
            command.append(f"--encounters-per-resident={encounters_per_resident}")
        started = time.perf_counter()
        manage(env, *command)
        wall = time.perf_counter() - started
        summary = json.loads(summary_path.read_text())
    return {
        "benchmark": "generate_demo",
        "database": "postgresql",
        "residents_requested": residents,
        "network": network_source,
        "wall_seconds": round(wall, 2),
        **summary,
    }


def _load_network(env: dict) -> str:
    data_file = ROOT / "data" / "wuhai.yaml"
    command = ROOT / "healthnet" / "management" / "commands" / "load_network.py"
    if data_file.exists() and command.exists():
        manage(env, "load_network", str(data_file))
        return "data/wuhai.yaml"
    subprocess.run(  # noqa: S603
        [sys.executable, str(Path(__file__).resolve()), "--create-minimal-network"],
        env=env,
        cwd=ROOT,
        check=True,
    )
    return "minimal (bench/bench_generate.py)"


def create_minimal_network() -> None:
    """A Wuhai-shaped stand-in (1 tertiary, 5 specialist, 4 district, 16 primary; SAMPLE names)
    for when the network file is not there. Runs inside a configured Django."""
    from healthnet.models import Department, District, Institution

    hospitals = [
        ("wh-t-renmin", "乌海市人民医院", "tertiary", "general_hospital", "haibowan", 1200),
        ("wh-s-mengyi", "乌海市蒙医中医医院", "specialist", "tcm_mongolian", "haibowan", 500),
        ("wh-s-fuyou", "乌海市妇幼保健院", "specialist", "maternal_child", "haibowan", 300),
        ("wh-s-jingshen", "乌海市精神卫生中心", "specialist", "mental_health", "wuda", 200),
        ("wh-s-chuanran", "乌海市传染病医院", "specialist", "infectious_disease", "hainan", 150),
        ("wh-s-kouqiang", "乌海市口腔医院", "specialist", "stomatology", "haibowan", 60),
        ("wh-d-haibowan", "海勃湾区人民医院", "district", "general_hospital", "haibowan", 300),
        ("wh-d-wuda", "乌达区人民医院", "district", "general_hospital", "wuda", 250),
        ("wh-d-hainan", "海南区人民医院", "district", "general_hospital", "hainan", 200),
        ("wh-d-haibowan-2", "海勃湾区中医医院", "district", "tcm", "haibowan", 120),
    ]
    districts = ["haibowan"] * 8 + ["wuda"] * 5 + ["hainan"] * 3
    primaries = [
        (
            f"wh-p-{n:02d}",
            f"示例社区卫生服务中心{n:02d}",
            "primary",
            "community_health_center",
            d,
            20,
        )
        for n, d in enumerate(districts, start=1)
    ]
    hospital_departments = [
        ("internal", "内科", "internal_medicine"),
        ("surgery", "外科", "surgery"),
        ("pediatrics", "儿科", "pediatrics"),
        ("obstetrics", "妇产科", "obstetrics_gynecology"),
        ("emergency", "急诊科", "emergency"),
        ("pharmacy", "药剂科", "pharmacy"),
    ]
    primary_departments = [
        ("general", "全科", "general_practice"),
        ("public-health", "公共卫生科", "public_health"),
        ("tcm", "中医科", "tcm"),
    ]
    for code, name, population in (
        ("haibowan", "海勃湾区", 300_000),
        ("wuda", "乌达区", 140_000),
        ("hainan", "海南区", 120_000),
    ):
        District.objects.get_or_create(code=code, defaults={"name": name, "population": population})
    for code, name, tier, category, district, beds in hospitals + primaries:
        institution, _ = Institution.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "tier": tier,
                "category": category,
                "district_id": district,
                "beds": beds,
                "is_sample_name": True,
            },
        )
        for dept_code, dept_name, specialty in (
            primary_departments if tier == "primary" else hospital_departments
        ):
            Department.objects.get_or_create(
                institution=institution,
                code=dept_code,
                defaults={"name": dept_name, "specialty": specialty, "referral_slots_per_day": 10},
            )


def _print(result: dict) -> None:
    print(f"generate_demo on PostgreSQL, {result['residents_requested']:,} residents requested")
    print(f"network: {result['network']}")
    print(f"{'stage':<18} {'rows':>12} {'seconds':>9} {'rows/s':>10}")
    for stage in result["stages"]:
        rows = sum(stage["rows"].values())
        rate = stage["rows_per_second"]
        print(f"{stage['name']:<18} {rows:>12,} {stage['seconds']:>9.1f} {rate:>10,}")
    total = sum(result["rows"].values())
    print(
        f"{'total':<18} {total:>12,} {result['seconds']:>9.1f} {total / result['seconds']:>10,.0f}"
    )
    print(f"command wall time (incl. start-up and commit): {result['wall_seconds']:.1f} s")
    for table, count in result["rows"].items():
        print(f"  {table:<28} {count:>12,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=560_000)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--today", default=TODAY)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--create-minimal-network", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.create_minimal_network:
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        create_minimal_network()
        return
    result = run(args.residents, database=args.database, seed=args.seed, today=args.today)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)


if __name__ == "__main__":
    main()
