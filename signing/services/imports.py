"""Contract import as a job (docs/design.md §5, issue 9 item 5, portal issue 10 page 8): the upload
is checked and stored, a Celery task (signing.tasks.contract_import_run) imports it chunk by
chunk, moving the job's progress, and streams every row error into an XLSX report.

- `import_job_create`: refuses at once what can be refused without parsing (size, format, an
  XLSX over the archive limits), stores the file in the `imports` storage, records the job and
  publishes the task once the transaction commits. A broker that is down loses nothing: the job
  waits, queued, for the sweep.
- `import_job_run` (the task's body) is idempotent: a finished job is left alone, a running one
  whose heartbeat is fresh belongs to another worker; a job whose worker was lost is started
  again (a re-run finds the rows written before as unchanged) up to SIGNING_IMPORT_MAX_ATTEMPTS.
  Out of time (the task's soft limit), it stops: the rows written stay, the job fails with
  `import_time_limit` and keeps the report of the errors found so far.
- `import_jobs_sweep` (beat): publishes queued jobs left behind, restarts running ones whose
  worker was lost, deletes error reports past their retention.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import uuid
from pathlib import PurePath
from typing import IO

from celery.exceptions import SoftTimeLimitExceeded
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from healthnet.errors import DomainError, Forbidden, InvalidInput, NotFound
from healthnet.models import User
from healthnet.services import audit_record
from signing import permissions
from signing.importer import ImportReport, contracts_import
from signing.importer.archive import xlsx_archive_check
from signing.importer.limits import ERRORS_PREVIEWED, MB, limit
from signing.importer.report import ErrorReportWriter
from signing.models import ContractImportJob, ImportJobStatus

logger = logging.getLogger("signing.imports")

FORMATS = (".csv", ".xlsx")
QUEUED_GRACE = dt.timedelta(seconds=60)  # a queued job younger than this waits for its task


def import_storage() -> Storage:
    return storages["imports"]


def _publish(job_id: int) -> None:
    from signing.tasks import contract_import_run

    try:
        contract_import_run.delay(job_id)
    except Exception:  # the broker is down or unreachable: the sweep publishes it later
        logger.warning(
            "import job %s: could not publish; the sweep will retry", job_id, exc_info=True
        )


def upload_check(*, filename: str, size: int, file: IO[bytes], max_bytes: int) -> str:
    """What is refused before a file is read: its size (`file_too_large`), its format
    (`file_format`) and, for an XLSX, the archive's limits. Returns the file's extension."""
    suffix = PurePath(filename.lower()).suffix
    if suffix not in FORMATS:
        raise InvalidInput(
            "file_format", "仅支持 CSV 或 XLSX 文件 (CSV or XLSX only)", field="file"
        )
    if size > max_bytes:
        raise InvalidInput(
            "file_too_large",
            f"文件过大（上限 {max_bytes // MB} MB） (the file is larger than {max_bytes // MB} MB)",
            field="file",
            limit=max_bytes,
        )
    if suffix == ".xlsx":
        xlsx_archive_check(file)
    return suffix


def import_job_create(
    *, actor: User, file: IO[bytes], filename: str, size: int
) -> ContractImportJob:
    """Check and store an upload and queue its import (the task runs once this commits)."""
    if not permissions.can_import_contracts(actor) or actor is None:
        raise Forbidden(
            "forbidden", "只有机构管理员可以导入签约 (only an institution admin may import)"
        )
    suffix = upload_check(
        filename=filename, size=size, file=file, max_bytes=limit("SIGNING_IMPORT_MAX_BYTES")
    )
    public_id = uuid.uuid4()
    file.seek(0)
    stored = import_storage().save(f"uploads/{public_id}{suffix}", File(file))
    try:
        with transaction.atomic():
            job = ContractImportJob.objects.create(
                public_id=public_id,
                created_by=actor,
                institution_id=actor.institution_id,
                filename=PurePath(filename).name[:200],
                file_size=size,
                upload=stored,
            )
            audit_record(
                actor=actor,
                action="contract_import_job_create",
                object_type="contract_import_job",
                object_id=job.public_id,
                details={"filename": job.filename, "bytes": size},
            )
            transaction.on_commit(lambda: _publish(job.pk))
    except Exception:
        import_storage().delete(stored)
        raise
    return job


# --- the task's body ------------------------------------------------------------------------


def _stale_before(now: dt.datetime) -> dt.datetime:
    """A running job not heard from since then has lost its worker: the hard time limit would
    have ended it by now."""
    return now - dt.timedelta(seconds=limit("SIGNING_IMPORT_TASK_TIME_LIMIT") + 60)


def _take(job_id: int) -> ContractImportJob | None:
    """Lock the job and mark it running for this worker; None when it is not ours to run."""
    now = timezone.now()
    with transaction.atomic():
        job = ContractImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.finished:
            return None
        if job.status == ImportJobStatus.RUNNING and job.updated_at > _stale_before(now):
            return None  # another worker has it
        if job.attempts >= limit("SIGNING_IMPORT_MAX_ATTEMPTS"):
            _close(
                job,
                failure=(
                    "import_interrupted",
                    "导入多次中断，请重新上传文件（已导入的行不会重复创建） "
                    "(the import was interrupted too often: upload the file again)",
                ),
            )
            return None
        job.status = ImportJobStatus.RUNNING
        job.attempts += 1
        job.started_at = now
        job.rows_done = 0
        job.save()
    return job


def _close(
    job: ContractImportJob,
    *,
    report: ImportReport | None = None,
    errors: ErrorReportWriter | None = None,
    failure: tuple[str, str] | None = None,
) -> None:
    """Finish the job: its counts, the first errors, the error report saved, the upload gone."""
    storage = import_storage()
    if errors is not None and errors.rows:
        with tempfile.TemporaryFile() as out:
            errors.save(out)
            out.seek(0)
            job.report = storage.save(f"reports/{job.public_id}.xlsx", File(out))
    elif errors is not None:
        errors.discard()
    if report is not None:
        job.rows_done = report.rows
        job.created = report.created
        job.unchanged = report.unchanged
        job.follow_ups = report.follow_ups
        job.error_count = report.error_count
        job.errors_preview = [
            {"row": e.row, "field": e.field, "code": e.code, "message": e.message}
            for e in report.errors
        ]
    elif errors is not None:
        job.error_count = errors.rows
    if failure is not None:
        job.status = ImportJobStatus.FAILED
        job.failure_code, job.failure_message = failure[0], failure[1][:500]
    else:
        job.status = ImportJobStatus.DONE
    job.finished_at = timezone.now()
    if job.upload:
        storage.delete(job.upload)
        job.upload = ""
    job.save()


def import_job_run(*, job_id: int) -> str:
    """Import the job's file (the body of signing.tasks.contract_import_run). Returns the job's
    status afterwards ("skipped" when it was not this call's to run)."""
    job = _take(job_id)
    if job is None:
        return "skipped"
    errors = ErrorReportWriter()
    jobs = ContractImportJob.objects.filter(pk=job.pk)

    def total(rows: int | None) -> None:
        jobs.update(rows_total=rows, updated_at=timezone.now())

    def advance(rows: int) -> None:
        jobs.update(rows_done=F("rows_done") + rows, updated_at=timezone.now())

    try:
        with import_storage().open(job.upload, "rb") as handle:
            report = contracts_import(
                actor=job.created_by,
                file=handle,
                filename=job.filename,
                progress=advance,
                on_total=total,
                on_error=errors.add,
                keep_errors=ERRORS_PREVIEWED,
            )
    except SoftTimeLimitExceeded:
        job.refresh_from_db()
        _close(
            job,
            errors=errors,
            failure=(
                "import_time_limit",
                f"导入超时，已处理 {job.rows_done} 行，已导入的行保留；请拆分文件或重新上传"
                "（重复导入不会重复创建） (out of time: the rows imported stay; split the file "
                "or upload it again)",
            ),
        )
    except DomainError as exc:  # the whole file refused: columns, format, archive, permission
        _close(job, errors=errors, failure=(exc.code, exc.message))
    except Exception:
        logger.exception("import job %s failed", job.public_id)
        _close(
            job,
            errors=errors,
            failure=("import_failed", "导入出错，请联系系统管理员 (the import failed)"),
        )
    else:
        job.refresh_from_db()
        _close(job, report=report, errors=errors)
    return job.status


def import_report_open(*, actor: User, job: ContractImportJob) -> tuple[IO[bytes], str]:
    """The job's error report opened for download and the file name to give it; the reading is
    audited. 404 `import_report_not_found` when the job found no error or the report expired."""
    if not job.report:
        raise NotFound("import_report_not_found", "没有可下载的错误报告 (no error report)")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="read",
            object_type="contract_import_report",
            object_id=job.public_id,
        )
    created = timezone.localtime(job.created_at)
    return import_storage().open(job.report, "rb"), f"import-errors-{created:%Y%m%d-%H%M}.xlsx"


# --- the sweep ---------------------------------------------------------------------------------


def import_jobs_sweep(*, now: dt.datetime | None = None) -> int:
    """Publish the jobs left behind (queued past the grace, or running without a heartbeat) and
    delete error reports past their retention. Returns how many jobs were published."""
    now = now or timezone.now()
    waiting = ContractImportJob.objects.filter(
        Q(status=ImportJobStatus.QUEUED, created_at__lt=now - QUEUED_GRACE)
        | Q(status=ImportJobStatus.RUNNING, updated_at__lt=_stale_before(now))
    ).values_list("pk", flat=True)
    published = 0
    for job_id in waiting:
        _publish(job_id)
        published += 1
    retention = dt.timedelta(days=limit("SIGNING_IMPORT_REPORT_RETENTION_DAYS"))
    expired = ContractImportJob.objects.filter(finished_at__lt=now - retention).exclude(report="")
    storage = import_storage()
    for job in expired:
        storage.delete(job.report)
        ContractImportJob.objects.filter(pk=job.pk).update(report="", report_expired=True)
    return published
