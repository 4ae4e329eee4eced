"""The institution admin's pages (portal issue 10 page 8): the contract import — upload a CSV or
XLSX, follow the job's progress (htmx polls the progress region; without JavaScript the page's
own "refresh" link), download the per-row error report — and the institution's teams with their
members, load and 履约率.

The import runs as a Celery job (signing.services.import_job_create / signing.tasks): the page
never imports in the request. Jobs out of the user's scope answer 404.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from healthnet.errors import DomainError
from portal.htmx import PortalRequest, is_background_poll
from portal.menu import page_view
from portal.pages.lists import found, page_of
from signing import selectors, services
from signing.importer.files import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from signing.importer.limits import MB, limit
from signing.importer.report import REPORT_CONTENT_TYPE

PROGRESS_POLL_SECONDS = 2


def _limits() -> dict[str, int]:
    return {
        "max_mb": limit("SIGNING_IMPORT_MAX_BYTES") // MB,
        "xlsx_mb": limit("SIGNING_IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES") // MB,
    }


@page_view("contract-import")
def contract_import(request: PortalRequest) -> HttpResponse:
    """The upload form and the jobs of the institution, newest first."""
    error = ""
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error, status = _("请选择要上传的 CSV 或 XLSX 文件。"), 422
        else:
            try:
                job = services.import_job_create(
                    actor=request.user,
                    file=upload,
                    filename=upload.name or "",
                    size=upload.size or 0,  # Django sets it on every upload
                )
            except DomainError as exc:
                error, status = exc.message, 422 if exc.code != "forbidden" else 403
            else:
                messages.success(request, _("文件已上传，正在排队导入。"))
                return redirect("portal:contract-import-job", job_id=job.public_id)
    jobs = page_of(request, selectors.import_jobs_visible_to(request.user), size=20)
    return render(
        request,
        "portal/imports/upload.html",
        {
            "jobs": jobs,
            "error": error,
            "required": REQUIRED_COLUMNS,
            "optional": OPTIONAL_COLUMNS,
            **_limits(),
        },
        status=status,
    )


def _job_context(request: PortalRequest, job_id: uuid.UUID) -> dict[str, object]:
    job = found(selectors.import_job_visible_to, request.user, job_id)
    percent = None if job.progress is None else round(job.progress * 100)
    return {"job": job, "percent": percent, "poll_seconds": PROGRESS_POLL_SECONDS}


@never_cache
@page_view("contract-import")
def import_job(request: PortalRequest, job_id: uuid.UUID) -> HttpResponse:
    return render(request, "portal/imports/job.html", _job_context(request, job_id))


@never_cache
@page_view("contract-import")
def import_job_progress(request: PortalRequest, job_id: uuid.UUID) -> HttpResponse:
    """The job's status region alone, for htmx to poll until the job is finished."""
    context = _job_context(request, job_id)
    context["background"] = is_background_poll(request)
    return render(request, "portal/imports/partials/job_status.html", context)


@page_view("contract-import")
def import_job_report(request: PortalRequest, job_id: uuid.UUID) -> FileResponse:
    job = found(selectors.import_job_visible_to, request.user, job_id)
    handle, filename = found(services.import_report_open, actor=request.user, job=job)
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=REPORT_CONTENT_TYPE
    )
    response["Cache-Control"] = "no-store"
    return response


@page_view("institution-teams")
def institution_teams(request: PortalRequest) -> HttpResponse:
    teams = list(selectors.teams_of_institution(request.user.institution_id))
    rates = selectors.fulfilment_by_team([t.pk for t in teams])
    return render(
        request,
        "portal/imports/teams.html",
        {"teams": [(team, rates[team.pk]) for team in teams]},
    )
