"""`make bench`: run every benchmark, print its figures, write bench/RESULTS.md.

Each bench/bench_*.py module exposes `run(**kwargs) -> dict` returning
{"title": str, "rows": [(figure, value, unit, note)], "notes": [str]}. Benchmarks are not
tests: they print figures and never fail on a time. Pick some with `bench/run.py verifier scan`.
Slow ones take arguments from the environment (BENCH_RESIDENTS=560000, BENCH_REFERRALS=100000).
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

ORDER = ["verifier", "generate", "signing", "referrals", "scan"]


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
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(results: list[tuple[str, dict, float]]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}.",
        "Figures, not gates: CI never fails on them.",
        "",
    ]
    for name, result, seconds in results:
        lines += [f"## {result.get('title', name)}", "", "| figure | value | unit | note |"]
        lines += ["|---|---:|---|---|"]
        for figure, value, unit, note in rows_of(result):
            shown = format_value(value)
            lines.append(f"| {figure} | {shown} | {unit} | {note} |")
        lines += ["", *[f"- {n}" for n in result.get("notes", [])], f"- ran in {seconds:.0f} s", ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
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
        (HERE / "RESULTS.md").write_text(render(results), encoding="utf-8")
        print(f"wrote {HERE / 'RESULTS.md'}")
    else:
        print(render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
