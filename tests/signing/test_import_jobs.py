"""Contract import as a Celery job (issue 9 item 5, portal issue 10 page 8): upload, progress,
counts, the first errors, the XLSX report of every error; scope; idempotent task; a dead broker,
a lost worker and the soft time limit; the synchronous API's size limit."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.core.files.storage import storages
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from healthnet.models import AuditEvent, UserRole
from healthnet.national_id import decrypt_national_id
from signing import services
from signing.models import Contract, ContractImportJob, ImportJobStatus
from tests.conftest import api_client_for
from tests.factories import InstitutionFactory, ResidentFactory, UserFactory
from tests.signing.helpers import SoftTimeLimitStorage, years_ago

HEADER = ["national_id", "team_code", "start_date", "end_date", "packages", "signed_method"]


def _csv(rows) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def _upload(content: bytes, name: str = "contracts.csv"):
    file = io.BytesIO(content)
    file.name = name
    return file


def _post(user, path, content, name="contracts.csv"):
    return Client().post(
        path,
        {"file": _upload(content, name)},
        headers={"Authorization": f"Bearer {api_client_for(user).token}"},
    )


def _get(user, path):
    return Client().get(path, headers={"Authorization": f"Bearer {api_client_for(user).token}"})


@pytest.fixture
def two_good_two_bad(team, primary):
    good = [ResidentFactory(birth_date=years_ago(40 + i), registered_by=primary) for i in range(2)]
    start = dt.date.today().isoformat()
    return _csv(
        [
            [decrypt_national_id(good[0].national_id_encrypted), "t-01", start, "", "", ""],
            ["150302198001010000", "t-01", start, "", "", ""],  # row 3: bad checksum
            [decrypt_national_id(good[1].national_id_encrypted), "t-01", start, "", "", ""],
            [decrypt_national_id(good[1].national_id_encrypted), "t-nope", start, "", "", ""],
        ]
    )


def test_an_upload_becomes_a_job_that_imports_and_reports_every_error(
    admin, two_good_two_bad, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(admin, "/api/v1/contracts/import-jobs", two_good_two_bad)

    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    body = _get(admin, f"/api/v1/contracts/import-jobs/{job_id}").json()
    assert body["status"] == "done"
    assert (body["rows_total"], body["rows_done"], body["progress"]) == (4, 4, 1.0)
    assert (body["created"], body["unchanged"], body["error_count"]) == (2, 0, 2)
    assert [(e["row"], e["field"], e["code"]) for e in body["errors"]] == [
        (3, "national_id", "national_id_checksum"),
        (5, "team_code", "team_unknown"),
    ]
    assert body["report_available"] is True
    assert Contract.objects.count() == 2

    report = _get(admin, f"/api/v1/contracts/import-jobs/{job_id}/report")

    assert report.status_code == 200
    assert report["Content-Disposition"].startswith("attachment;")
    assert report["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(b"".join(report.streaming_content))).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows == [
        ["行号 row", "列 column", "错误代码 code", "原因 reason", "单元格内容 value"],
        [3, "national_id", "national_id_checksum", rows[1][3], "1503**********0000"],
        [5, "team_code", "team_unknown", rows[2][3], "t-nope"],
    ]
    job = ContractImportJob.objects.get(public_id=job_id)
    assert job.upload == ""  # the uploaded file is deleted once imported
    assert AuditEvent.objects.filter(
        action="read", object_type="contract_import_report", object_id=job_id
    ).exists()


def test_a_job_without_errors_has_no_report(
    admin, team, primary, django_capture_on_commit_callbacks
):
    resident = ResidentFactory(birth_date=years_ago(50), registered_by=primary)
    content = _csv(
        [[decrypt_national_id(resident.national_id_encrypted), "t-01", dt.date.today(), "", "", ""]]
    )
    with django_capture_on_commit_callbacks(execute=True):
        job_id = _post(admin, "/api/v1/contracts/import-jobs", content).json()["id"]

    body = _get(admin, f"/api/v1/contracts/import-jobs/{job_id}").json()
    report = _get(admin, f"/api/v1/contracts/import-jobs/{job_id}/report")

    assert (body["status"], body["created"], body["report_available"]) == ("done", 1, False)
    assert (report.status_code, report.json()["code"]) == (404, "import_report_not_found")


def test_a_zip_bomb_is_refused_at_upload_and_nothing_is_stored(admin, team):
    from tests.signing.test_import_limits import _bomb

    response = _post(admin, "/api/v1/contracts/import-jobs", _bomb(20).getvalue(), "b.xlsx")

    assert (response.status_code, response.json()["code"]) == (422, "xlsx_compression_ratio")
    assert ContractImportJob.objects.count() == 0
    assert not storages["imports"].exists("uploads")  # nothing was stored


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [("x.pdf", b"%PDF", "file_format"), ("x.csv", b"x" * 2048, "file_too_large")],
)
def test_what_is_refused_before_reading_is_refused_at_upload(admin, settings, name, content, code):
    settings.SIGNING_IMPORT_MAX_BYTES = 1024

    response = _post(admin, "/api/v1/contracts/import-jobs", content, name)

    assert (response.status_code, response.json()["code"]) == (422, code)
    assert ContractImportJob.objects.count() == 0


def test_jobs_are_seen_by_the_uploader_and_their_institutions_admins_only(
    admin, gp, primary, two_good_two_bad, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job_id = _post(admin, "/api/v1/contracts/import-jobs", two_good_two_bad).json()["id"]
    colleague = UserFactory(
        username="admin-2", role=UserRole.INSTITUTION_ADMIN, institution=primary
    )
    elsewhere = UserFactory(
        username="admin-x",
        role=UserRole.INSTITUTION_ADMIN,
        institution=InstitutionFactory(code="wh-p-09"),
    )
    missing = "/api/v1/contracts/import-jobs/00000000-0000-0000-0000-000000000000"

    assert _get(colleague, f"/api/v1/contracts/import-jobs/{job_id}").status_code == 200
    assert [j["id"] for j in _get(colleague, "/api/v1/contracts/import-jobs").json()["items"]] == [
        job_id
    ]
    out_of_scope = _get(elsewhere, f"/api/v1/contracts/import-jobs/{job_id}")
    assert out_of_scope.status_code == 404
    assert out_of_scope.json() == _get(elsewhere, missing).json()
    assert _get(elsewhere, f"/api/v1/contracts/import-jobs/{job_id}/report").status_code == 404
    assert _get(elsewhere, "/api/v1/contracts/import-jobs").json()["items"] == []
    assert _post(gp, "/api/v1/contracts/import-jobs", two_good_two_bad).status_code == 403
    assert _get(gp, f"/api/v1/contracts/import-jobs/{job_id}").status_code == 404


def test_the_task_is_idempotent(admin, two_good_two_bad):
    job = services.import_job_create(
        actor=admin, file=_upload(two_good_two_bad), filename="c.csv", size=len(two_good_two_bad)
    )

    first = services.import_job_run(job_id=job.pk)
    second = services.import_job_run(job_id=job.pk)

    assert (first, second) == ("done", "skipped")
    job.refresh_from_db()
    assert (job.created, job.error_count, job.attempts) == (2, 2, 1)
    assert Contract.objects.count() == 2


def test_a_dead_broker_delays_the_job_and_the_sweep_runs_it(
    admin, two_good_two_bad, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.import_job_create(
            actor=admin,
            file=_upload(two_good_two_bad),
            filename="c.csv",
            size=len(two_good_two_bad),
        )
    job.refresh_from_db()
    assert job.status == ImportJobStatus.QUEUED  # published nowhere, lost nothing

    from config.celery import app

    app.conf.task_always_eager = True  # the broker is back
    assert services.import_jobs_sweep() == 0  # within the grace: its own publish may come
    published = services.import_jobs_sweep(now=timezone.now() + dt.timedelta(minutes=2))

    job.refresh_from_db()
    assert (published, job.status, job.created) == (1, ImportJobStatus.DONE, 2)


def test_a_job_whose_worker_was_lost_is_restarted_then_given_up(admin, two_good_two_bad, settings):
    settings.SIGNING_IMPORT_TASK_TIME_LIMIT = 600
    job = services.import_job_create(
        actor=admin, file=_upload(two_good_two_bad), filename="c.csv", size=len(two_good_two_bad)
    )
    ContractImportJob.objects.filter(pk=job.pk).update(status="running", attempts=1)
    started = timezone.now()

    # Still beating (updated within the hard limit + 60 s): another worker has it.
    with time_machine.travel(started + dt.timedelta(seconds=659)):
        assert services.import_job_run(job_id=job.pk) == "skipped"
        assert services.import_jobs_sweep() == 0
    with time_machine.travel(started + dt.timedelta(seconds=661)):
        assert services.import_jobs_sweep() == 1  # eager: restarted and run now

    job.refresh_from_db()
    assert (job.status, job.attempts, job.created) == ("done", 2, 2)

    settings.SIGNING_IMPORT_MAX_ATTEMPTS = 2
    ContractImportJob.objects.filter(pk=job.pk).update(status="running")
    with time_machine.travel(started + dt.timedelta(seconds=1400)):
        services.import_jobs_sweep()
    job.refresh_from_db()
    assert (job.status, job.failure_code) == ("failed", "import_interrupted")


def test_out_of_time_the_job_fails_keeping_what_it_wrote_and_the_errors_so_far(
    admin, team, settings
):
    rows = [[f"15030219800101{n:04d}", "t-01", "2026-01-01", "", "", ""] for n in range(6000)]
    content = _csv(rows)
    SoftTimeLimitStorage.at = len(content) * 9 // 10  # past the first 5,000-row chunk
    settings.STORAGES = {
        **settings.STORAGES,
        "imports": {
            **settings.STORAGES["imports"],
            "BACKEND": SoftTimeLimitStorage.__module__ + ".SoftTimeLimitStorage",
        },
    }
    job = services.import_job_create(
        actor=admin, file=_upload(content), filename="c.csv", size=len(content)
    )

    assert services.import_job_run(job_id=job.pk) == "failed"

    job.refresh_from_db()
    assert (job.failure_code, job.rows_done, job.error_count) == ("import_time_limit", 5000, 5000)
    assert "5000" in job.failure_message
    assert job.upload == ""
    with storages["imports"].open(job.report, "rb") as handle:
        report = load_workbook(io.BytesIO(handle.read()), read_only=True).active
        assert sum(1 for _ in report.iter_rows()) == 5001


def test_error_reports_are_deleted_after_their_retention(admin, two_good_two_bad, settings):
    settings.SIGNING_IMPORT_REPORT_RETENTION_DAYS = 30
    job = services.import_job_create(
        actor=admin, file=_upload(two_good_two_bad), filename="c.csv", size=len(two_good_two_bad)
    )
    services.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    report = job.report
    assert storages["imports"].exists(report)

    services.import_jobs_sweep(now=job.finished_at + dt.timedelta(days=30))
    assert storages["imports"].exists(report)
    services.import_jobs_sweep(now=job.finished_at + dt.timedelta(days=30, seconds=1))

    job.refresh_from_db()
    assert (job.report, job.report_expired) == ("", True)
    assert not storages["imports"].exists(report)


def test_the_synchronous_api_takes_small_files_only(admin, two_good_two_bad, settings):
    settings.SIGNING_IMPORT_SYNC_MAX_BYTES = len(two_good_two_bad) - 1

    response = _post(admin, "/api/v1/contracts/import", two_good_two_bad)

    assert (response.status_code, response.json()["code"]) == (422, "file_too_large")
    assert "/api/v1/contracts/import-jobs" in response.json()["message"]
    assert Contract.objects.count() == 0
    settings.SIGNING_IMPORT_SYNC_MAX_BYTES = len(two_good_two_bad)
    assert _post(admin, "/api/v1/contracts/import", two_good_two_bad).json()["created"] == 2
