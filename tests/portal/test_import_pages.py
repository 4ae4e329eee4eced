"""The institution admin's pages (portal issue 10 page 8): the contract import as a job — upload,
the progress region htmx polls (and what a browser without script refreshes), the first errors,
the XLSX report — and the institution's teams and members; per role, empty, out of scope."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from healthnet.models import Practitioner, UserRole
from healthnet.national_id import decrypt_national_id
from signing import services as signing_services
from signing.models import Contract, ContractImportJob, ImportJobStatus
from tests.factories import InstitutionFactory, ResidentFactory, UserFactory
from tests.portal.scenario import build_people

pytestmark = pytest.mark.django_db

HEADER = ["national_id", "team_code", "start_date", "packages"]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _csv(rows) -> io.BytesIO:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(HEADER)
    writer.writerows(rows)
    file = io.BytesIO(text.getvalue().encode("utf-8"))
    file.name = "签约名单.csv"
    return file


@pytest.fixture
def people():
    return build_people()


@pytest.fixture
def mixed(people):
    """Two good rows, a bad ID number (row 3) and an unknown team (row 5)."""
    residents = [ResidentFactory(registered_by=people.primary) for _ in range(2)]
    today = dt.date.today().isoformat()
    ids = [decrypt_national_id(r.national_id_encrypted) for r in residents]
    return _csv(
        [
            [ids[0], "t-01", today, ""],
            ["150302198001010000", "t-01", today, ""],
            [ids[1], "t-01", today, "basic"],
            [ids[1], '=HYPERLINK("http://x")', today, ""],
        ]
    )


def test_the_upload_page_and_its_empty_state(people):
    page = client_for(people.users["institution_admin"]).get("/contracts/import/").content.decode()

    assert '<input type="file" id="import-file" name="file"' in page
    assert '<label for="import-file">' in page
    assert "还没有导入记录" in page
    assert 'enctype="multipart/form-data"' in page


def test_an_upload_becomes_a_job_whose_page_shows_counts_errors_and_the_report(
    people, mixed, django_capture_on_commit_callbacks
):
    client = client_for(people.users["institution_admin"])

    with django_capture_on_commit_callbacks(execute=True):  # the task runs (eagerly) on commit
        response = client.post("/contracts/import/", {"file": mixed})

    job = ContractImportJob.objects.get()
    assert response.status_code == 302
    assert response.url == f"/contracts/import/{job.public_id}/"
    page = client.get(response.url).content.decode()
    assert 'data-status="done"' in page
    assert 'data-figure="created">2<' in page
    assert 'data-figure="errors">2<' in page
    assert "hx-trigger" not in page  # finished: nothing left to poll
    assert re.findall(r'<tr><td class="tabular">(\d+)</td>', page) == ["3", "5"]
    assert Contract.objects.count() == 2
    listing = client.get("/contracts/import/").content.decode()
    assert "签约名单.csv" in listing

    report = client.get(f"/contracts/import/{job.public_id}/report/")

    assert report["Content-Disposition"].startswith("attachment;")
    sheet = load_workbook(io.BytesIO(b"".join(report.streaming_content))).active
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (3, "national_id", "national_id_checksum"),
        (5, "team_code", "team_unknown"),
    ]
    assert rows[1][4] == '\'=HYPERLINK("http://x")'  # echoed, not a formula


def test_while_the_job_waits_the_status_region_polls_and_says_so(people, mixed):
    admin = people.users["institution_admin"]
    job = signing_services.import_job_create(
        actor=admin, file=mixed, filename="c.csv", size=len(mixed.getvalue())
    )  # not committed in this test's transaction: no task has run
    client = client_for(admin)

    page = client.get(f"/contracts/import/{job.public_id}/").content.decode()
    partial = client.get(
        f"/contracts/import/{job.public_id}/progress/",
        headers={"HX-Request": "true", "X-HealthNet-Poll": "1"},
    )

    assert 'data-status="queued"' in page
    assert f'hx-get="/contracts/import/{job.public_id}/progress/" hx-trigger="every 2s"' in page
    assert "data-poll" in page
    # Without script, the same region's link reloads the page.
    assert f'<a href="/contracts/import/{job.public_id}/" hx-get=' in page
    assert partial.content.decode().strip().startswith('<section id="import-job-status"')
    assert "<html" not in partial.content.decode()


def test_a_running_job_shows_its_progress(people, mixed):
    admin = people.users["institution_admin"]
    job = signing_services.import_job_create(
        actor=admin, file=mixed, filename="c.csv", size=len(mixed.getvalue())
    )
    ContractImportJob.objects.filter(pk=job.pk).update(
        status=ImportJobStatus.RUNNING, rows_total=5000, rows_done=2000
    )

    page = client_for(admin).get(f"/contracts/import/{job.public_id}/progress/").content.decode()

    assert '<progress id="import-progress" max="100" value="40">' in page
    assert "已处理 40%" in page
    assert "2000" in page
    assert "5000" in page


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.pdf", b"%PDF-1.4", "仅支持 CSV 或 XLSX 文件"),
        ("x.xlsx", b"not a zip at all", "无法读取 XLSX 文件"),
    ],
)
def test_a_file_refused_at_upload_is_said_at_the_field(people, name, content, message):
    upload = io.BytesIO(content)
    upload.name = name

    response = client_for(people.users["institution_admin"]).post(
        "/contracts/import/", {"file": upload}
    )

    page = response.content.decode()
    assert response.status_code == 422
    assert message in page
    assert 'id="import-file-error"' in page
    assert ContractImportJob.objects.count() == 0


def test_no_file_is_said_too(people):
    response = client_for(people.users["institution_admin"]).post("/contracts/import/", {})

    assert response.status_code == 422
    assert "请选择要上传的 CSV 或 XLSX 文件" in response.content.decode()


def test_another_institutions_job_answers_404(people, mixed):
    job = signing_services.import_job_create(
        actor=people.users["institution_admin"],
        file=mixed,
        filename="c.csv",
        size=len(mixed.getvalue()),
    )
    elsewhere = UserFactory(
        username="admin-x",
        role=UserRole.INSTITUTION_ADMIN,
        institution=InstitutionFactory(code="wh-p-09"),
    )
    client = client_for(elsewhere)

    for path in ("", "progress/", "report/"):
        assert client.get(f"/contracts/import/{job.public_id}/{path}").status_code == 404
    assert "c.csv" not in client.get("/contracts/import/").content.decode()


@pytest.mark.parametrize("role", ["doctor", "clerk", "bureau", "system_admin"])
def test_the_import_pages_answer_403_to_other_roles(people, role):
    client = client_for(people.users[role])

    assert client.get("/contracts/import/").status_code == 403
    assert client.get("/institution/teams/").status_code == 403


def test_the_institutions_teams_with_members_load_and_fulfilment(people):
    page = client_for(people.users["institution_admin"]).get("/institution/teams/").content.decode()

    assert "新华社区第一家庭医生团队" in page
    assert "王建华" in page
    assert "李秀英" in page
    assert "公卫医生" in page
    assert '<td class="tabular">0/500</td>' in page


def test_an_institution_without_teams_says_so(people):
    admin = UserFactory(
        username="admin-h",
        role=UserRole.INSTITUTION_ADMIN,
        institution=InstitutionFactory(code="wh-d-01"),
    )

    page = client_for(admin).get("/institution/teams/").content.decode()

    assert "本机构还没有家庭医生团队" in page


def test_the_teams_page_costs_the_same_queries_for_one_or_four_teams(people):
    client = client_for(people.users["institution_admin"])
    client.get("/institution/teams/")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/institution/teams/").status_code == 200
        return len(captured)

    few = queries()
    for n in range(3):
        lead = Practitioner.objects.create(name=f"医生{n}", sex="male", license_number=f"L-{n}")
        team = signing_services.team_create(
            actor=None, code=f"t-1{n}", name=f"团队{n}", institution=people.primary, lead=lead
        )
        member = Practitioner.objects.create(name=f"护士{n}", sex="female", license_number=f"N-{n}")
        signing_services.team_member_add(actor=None, team=team, practitioner=member, role="nurse")

    assert queries() == few


def test_the_jobs_list_costs_the_same_queries_for_one_or_six_jobs(people, mixed):
    admin = people.users["institution_admin"]
    client = client_for(admin)

    def upload() -> None:
        mixed.seek(0)
        signing_services.import_job_create(
            actor=admin, file=mixed, filename="c.csv", size=len(mixed.getvalue())
        )

    upload()
    client.get("/contracts/import/")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/contracts/import/").status_code == 200
        return len(captured)

    few = queries()
    for _ in range(5):
        upload()

    assert queries() == few
