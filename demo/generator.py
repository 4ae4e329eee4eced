"""The deterministic demo-data generator (`python manage.py generate_demo`).

Same seed, same network, same `today` → the same residents (national ID numbers, names, birth
dates), staff and visits, then family-doctor teams and contracts (demo/contracts.py) and a
year of referrals (demo/referrals.py). City scale (560,000 residents, 2,000,000 visits) streams
rows through healthnet/bulk.py (PostgreSQL's COPY with reserved ids, so nothing is read back and
memory stays bounded; bulk_create in batches elsewhere). Everything runs in one transaction: a
failed run leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction

from demo.contracts import generate_signing
from demo.network import NetworkMissing, network_view
from demo.people import generate_residents, write_tags
from demo.referrals import generate_referrals
from demo.register import write_registrations
from demo.staff import generate_staff
from demo.visits import generate_encounters
from healthnet.bulk import constraints_immediate
from healthnet.models import Resident

__all__ = [
    "LATER_STAGES",
    "DemoDataExists",
    "DemoSummary",
    "NetworkMissing",
    "StageResult",
    "demo_data_exists",
    "generate_demo",
]

DEFAULT_ENCOUNTERS_PER_RESIDENT = 3.6  # 560,000 residents → about 2,000,000 visits

ProgressFactory = Callable[[str, int, str], "Progress"]
# A stage after residents, staff and visits: generate(*, seed, today, log) -> rows per table.
StageFunction = Callable[..., dict[str, int]]

LATER_STAGES: tuple[tuple[str, StageFunction], ...] = (
    ("signing", generate_signing),
    ("referrals", generate_referrals),
)


class DemoDataExists(Exception):
    """Residents exist already and the caller did not ask to append."""


@dataclass
class StageResult:
    name: str
    rows: dict[str, int]
    seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds > 0 else 0.0


@dataclass
class DemoSummary:
    stages: list[StageResult] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(stage.seconds for stage in self.stages)

    @property
    def rows(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for stage in self.stages:
            for table, count in stage.rows.items():
                merged[table] = merged.get(table, 0) + count
        return merged

    def as_dict(self) -> dict:
        return {
            "seconds": round(self.seconds, 2),
            "rows": self.rows,
            "stages": [
                {
                    "name": stage.name,
                    "rows": stage.rows,
                    "seconds": round(stage.seconds, 2),
                    "rows_per_second": round(stage.rows_per_second),
                }
                for stage in self.stages
            ],
        }


class Progress:
    """A no-op progress reporter; the command passes tqdm bars instead."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def no_progress(name: str, total: int, unit: str) -> Progress:
    return Progress()


def demo_data_exists() -> bool:
    return Resident.objects.exists()


def generate_demo(
    *,
    residents: int,
    seed: int,
    today: dt.date,
    encounters_per_resident: float = DEFAULT_ENCOUNTERS_PER_RESIDENT,
    append: bool = False,
    progress: ProgressFactory = no_progress,
    log: Callable[[str], None] = lambda message: None,
    later_stages: Sequence[tuple[str, StageFunction]] = LATER_STAGES,
) -> DemoSummary:
    """Generate the demo city on top of the loaded network. Raises NetworkMissing without a
    network and DemoDataExists when residents exist and `append` is false. `later_stages` run
    in order after the residents, staff and visits (tests of the base city pass none)."""
    if residents < 0 or encounters_per_resident < 0:
        raise ValueError("residents and encounters per resident must not be negative")
    network = network_view()
    summary = DemoSummary()
    with transaction.atomic():
        if Resident.objects.exists() and not append:
            raise DemoDataExists(
                "已有居民数据;如需追加请使用 --append (residents exist already: use --append "
                "to add more)"
            )
        existing_hashes: set[str] = set()
        stream: int | str = seed
        if append:
            existing_hashes = set(Resident.objects.values_list("national_id_hash", flat=True))
            if existing_hashes:
                # Appending draws from other streams, so the new rows' public ids are new too.
                stream = f"{seed}/after-{len(existing_hashes)}"

        with constraints_immediate(), _stage(summary, "residents") as rows:
            with _bar(progress, "residents", residents, "resident") as bar:
                cohort = generate_residents(
                    count=residents,
                    seed=stream,
                    today=today,
                    network=network,
                    existing_hashes=existing_hashes,
                    progress=bar.update,
                )
            rows["residents"] = cohort.count
            with _bar(progress, "registrations", residents, "resident") as bar:
                rows["resident_registrations"] = write_registrations(cohort, bar.update)
            with _bar(progress, "population tags", residents, "resident") as bar:
                rows["resident_population_tags"] = write_tags(
                    cohort, bar.update, seed=stream, today=today
                )
        log(_stage_line(summary.stages[-1]))

        with (
            _stage(summary, "practitioners") as rows,
            _bar(progress, "practitioners", len(network.institutions), "institution") as bar,
        ):
            rows.update(generate_staff(seed=seed, network=network, progress=bar.update))
        log(_stage_line(summary.stages[-1]))

        with (
            constraints_immediate(),
            _stage(summary, "encounters") as rows,
            _bar(progress, "encounters", residents, "resident") as bar,
        ):
            rows["encounters"] = generate_encounters(
                cohort=cohort,
                seed=stream,
                today=today,
                per_resident=encounters_per_resident,
                network=network,
                progress=bar.update,
            )
        log(_stage_line(summary.stages[-1]))
        del cohort

        if connection.vendor == "postgresql":
            with _stage(summary, "analyze"), connection.cursor() as cursor:
                # Fresh statistics for the big tables before the later stages query them.
                cursor.execute(
                    "ANALYZE healthnet_resident, healthnet_residentpopulationtag, "
                    "healthnet_residentregistration, "
                    "healthnet_encounter, healthnet_practitioner, healthnet_practitionerrole"
                )

        for name, stage_generate in later_stages:
            with _stage(summary, name) as rows:
                rows.update(stage_generate(seed=seed, today=today, log=log))
            log(_stage_line(summary.stages[-1]))
        committing = time.perf_counter()
    # Deferred foreign-key checks of the later stages' rows run at commit.
    summary.stages.append(StageResult("commit", {}, time.perf_counter() - committing))
    log(f"commit: {summary.stages[-1].seconds:.1f} s")
    return summary


def _stage_line(stage: StageResult) -> str:
    counts = ", ".join(f"{table} {count:,}" for table, count in stage.rows.items())
    return f"{stage.name}: {counts} in {stage.seconds:.1f} s ({stage.rows_per_second:,.0f} rows/s)"


@contextmanager
def _stage(summary: DemoSummary, name: str):
    rows: dict[str, int] = {}
    started = time.perf_counter()
    yield rows
    summary.stages.append(StageResult(name, rows, time.perf_counter() - started))


@contextmanager
def _bar(progress: ProgressFactory, name: str, total: int, unit: str):
    bar = progress(name, total, unit)
    try:
        yield bar
    finally:
        bar.close()
