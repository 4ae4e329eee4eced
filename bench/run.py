"""`make bench`: run every benchmark, print its figures, write bench/RESULTS.md.

Each bench/bench_*.py module exposes `run(**kwargs) -> dict` returning
{"title": str, "rows": [(figure, value, unit, note)], "notes": [str]}. Benchmarks are not
tests: they print figures and never fail on a time. Pick some with `bench/run.py verifier scan`.
Slow ones take arguments from the environment (BENCH_RESIDENTS=560000, BENCH_REFERRALS=100000,
BENCH_PORTAL_RESIDENTS=20000, BENCH_PORTAL_REFERRALS=20000).
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

ORDER = [
    "verifier",
    "generate",
    "signing",
    "referrals",
    "scan",
    "resident_code",
    "portal",
    "reports",
]


def available() -> list[str]:
    names = [p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py")]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def machine() -> str:
    cpus = os.cpu_count()
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{platform.machine()}, {cpus} cores{mem}, Python {platform.python_version()}"


def rows_of(result: dict) -> list[tuple]:
    """(figure, value, unit, note) rows. A module may return them ready under "rows" as a list;
    otherwise its nested figures are flattened into dotted names."""
    ready = result.get("rows")
    if isinstance(ready, list) and all(isinstance(row, (list, tuple)) for row in ready):
        return [tuple(row) + ("",) * (4 - len(row)) for row in ready]
    return [(name, value, "", "") for name, value in _flatten(result, skip={"title", "notes"})]


def _flatten(value, prefix: str = "", skip=frozenset()) -> list[tuple[str, object]]:
    if isinstance(value, dict):
        pairs = []
        for key, inner in value.items():
            if key in skip:
                continue
            pairs += _flatten(inner, f"{prefix}.{key}" if prefix else str(key))
        return pairs
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        pairs = []
        for index, item in enumerate(value):
            label = item.get("name", index)
            rest = {k: v for k, v in item.items() if k != "name"}
            pairs += _flatten(rest, f"{prefix}[{label}]")
        return pairs
    if isinstance(value, list):
        return [(prefix, ", ".join(str(item) for item in value))]
    return [(prefix, value)]


def format_value(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and abs(value) < 10:
        return f"{value:.3g}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def figure(result: dict, name: str):
    """A figure by its name in a module's ready rows."""
    for row in result.get("rows", []):
        if isinstance(row, (list, tuple)) and row[0] == name:
            return row[1]
    raise KeyError(name)


def _generate_headline(r: dict) -> list[tuple[str, str, str]]:
    stages = {stage["name"]: stage for stage in r["stages"]}
    own = stages["residents"]["seconds"] + stages["encounters"]["seconds"]
    people = r["rows"]["residents"]
    visits = r["rows"]["encounters"]
    total = sum(r["rows"].values())
    return [
        (
            f"generate_demo: {people:,} residents + {visits:,} encounters (PostgreSQL)",
            f"{own:.0f} s",
            "under 10 min (issue 2)",
        ),
        (f"generate_demo: the whole city, {total:,} rows", f"{r['wall_seconds']:.0f} s", ""),
    ]


# What each issue asked to measure, in one line each (the detail follows below).
HEADLINES = {
    "verifier": lambda r: [
        (
            "health-code verifier, one core",
            f"{r['verifier_per_s']:,}/s = {r['ratio']:.0%} of raw ES256"
            f" ({r['raw_es256_per_s']:,}/s)",
            "≥ 80 % (issue 5)",
        )
    ],
    "generate": _generate_headline,
    "signing": lambda r: [
        (
            "import of 228,800 contracts",
            f"{figure(r, 'import (first run)'):.1f} s",
            "under 60 s (issue 3)",
        ),
        (
            "contract list, team member, p50",
            f"{figure(r, 'contracts, team member p50'):.0f} ms",
            "",
        ),
    ],
    "referrals": lambda r: [
        (
            "referral worklist at 100k+, page 1 p50 / p95",
            figure(r, "incoming, page 1: p50 / p95") + " ms",
            "issue 4",
        ),
    ],
    "scan": lambda r: [
        (
            "scan endpoint, 32 clients, gunicorn + PostgreSQL + Redis",
            f"{figure(r, 'scan requests per second'):.0f} req/s,"
            f" p99 {figure(r, 'latency p99'):.0f} ms",
            "issue 5",
        )
    ],
    "resident_code": lambda r: [
        (
            "resident code page refresh: server p95 (new code) / bytes per refresh",
            f"{figure(r, 'new code each poll: p50 / p95').split(' / ')[1]} ms /"
            f" {figure(r, 'bytes per refresh (gzip, on the wire)'):,} B",
            "issue 11",
        )
    ],
    "portal": lambda r: [
        (
            "portal referral worklist / referral page, server p50 / p95",
            f"{figure(r, 'incoming worklist, page 1: p50 / p95')} /"
            f" {figure(r, 'referral page, submitted: p50 / p95')} ms",
            "issue 10",
        )
    ],
    "reports": lambda r: [
        (
            "report rollups: one month's KPIs by their functions ÷ hand-written SQL",
            f"{figure(r, 'ratio functions ÷ SQL'):.2f}×",
            "≤ 1.5× (issue 12)",
        ),
        (
            "report API read from the rollups, every team: p50 / p95",
            figure(r, "values, fulfilment, every team: p50 / p95") + " ms",
            "issue 12",
        ),
    ],
}


def headlines(results: list[tuple[str, dict, float]]) -> list[str]:
    lines = ["## Summary", "", "| what | result | target |", "|---|---|---|"]
    for name, result, _ in results:
        try:
            rows = HEADLINES[name](result)
        except (KeyError, TypeError, ValueError):
            continue
        lines += [f"| {what} | {value} | {target} |" for what, value, target in rows]
    return [*lines, ""]


# Write-ups of measurements made by hand (a benchmark run at the city's scale with its stages
# apart, on a quiet machine; `make mutate`'s figure, which is not a benchmark of this runner): one
# file each in bench/recorded/, carried into every render in the order of their names, so that
# `make bench` never drops them. A new hand measurement adds a file there, not an edit of
# RESULTS.md (which the next full run rewrites).
RECORDED = HERE / "recorded"


def recorded() -> list[str]:
    return [path.read_text(encoding="utf-8").rstrip("\n") for path in sorted(RECORDED.glob("*.md"))]


def render(results: list[tuple[str, dict, float]]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}.",
        "Figures, not gates: CI never fails on them.",
        "",
        *headlines(results),
    ]
    for name, result, seconds in results:
        lines += [f"## {result.get('title', name)}", "", "| figure | value | unit | note |"]
        lines += ["|---|---:|---|---|"]
        for figure, value, unit, note in rows_of(result):
            shown = format_value(value)
            lines.append(f"| {figure} | {shown} | {unit} | {note} |")
        lines += ["", *[f"- {n}" for n in result.get("notes", [])], f"- ran in {seconds:.0f} s", ""]
    for text in recorded():
        lines += [text, ""]
    return "\n".join(lines)


LAST_RUN = HERE / "out" / "last-run.json"


def main(argv: list[str]) -> int:
    if argv == ["--render"]:  # re-render RESULTS.md from the last full run, nothing measured
        results = [tuple(item) for item in json.loads(LAST_RUN.read_text(encoding="utf-8"))]
        (HERE / "RESULTS.md").write_text(render(results), encoding="utf-8")
        return 0
    names = argv or available()
    results = []
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        print(f"== {name}", flush=True)
        started = time.monotonic()
        result = module.run()
        seconds = time.monotonic() - started
        for figure, value, unit, note in rows_of(result):
            print(f"  {figure}: {value} {unit} {note}")
        results.append((name, result, seconds))
    if not argv:
        LAST_RUN.parent.mkdir(exist_ok=True)
        LAST_RUN.write_text(json.dumps(results, default=str), encoding="utf-8")
        (HERE / "RESULTS.md").write_text(render(results), encoding="utf-8")
        print(f"wrote {HERE / 'RESULTS.md'}")
    else:
        print(render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
