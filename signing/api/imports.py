"""Contract import as a job: upload a file (202), follow its progress, download the per-row
error report. `POST /contracts/import` (signing/api/contracts.py) stays synchronous for files up
to SIGNING_IMPORT_SYNC_MAX_BYTES, with the same checks (docs/signing.md)."""

import uuid

from django.http import FileResponse
from ninja import File, Router, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from config.pagination import PageNumberPagination
from signing import permissions, selectors, services
from signing.api.schemas import ImportJobOut
from signing.api.scope import forbid
from signing.importer.report import REPORT_CONTENT_TYPE

router = Router(tags=["signing"])

IMPORT_ONLY = "只有机构管理员可以导入签约 (only an institution admin may import)"


@router.post("/contracts/import-jobs", response={202: ImportJobOut})
def import_job_create(request, file: File[UploadedFile]):
    """Upload a CSV or XLSX of existing contracts (up to SIGNING_IMPORT_MAX_BYTES); it is imported
    in the background. 422 at once for a file too large, of another format or an XLSX over the
    archive limits (a zip bomb); every other problem is a row error in the job."""
    if not permissions.can_import_contracts(request.user):
        forbid(IMPORT_ONLY)
    job = services.import_job_create(
        actor=request.user, file=file, filename=file.name or "", size=file.size or 0
    )
    return Status(202, job)


@router.get("/contracts/import-jobs", response=list[ImportJobOut])
@paginate(PageNumberPagination)
def import_job_list(request):
    """The caller's import jobs (an institution admin: their institution's), newest first."""
    if not permissions.can_import_contracts(request.user):
        forbid(IMPORT_ONLY)
    return selectors.import_jobs_visible_to(request.user)


@router.get("/contracts/import-jobs/{uuid:job_id}", response=ImportJobOut)
def import_job_detail(request, job_id: uuid.UUID):
    """A job's status and progress; poll it until `status` is done or failed."""
    return selectors.import_job_visible_to(request.user, job_id)


@router.get("/contracts/import-jobs/{uuid:job_id}/report", response={200: None})
def import_job_report(request, job_id: uuid.UUID):
    """The XLSX of every row error (row, column, code, reason, the cell with ID numbers masked);
    404 `import_report_not_found` when the job found none or the report has expired."""
    job = selectors.import_job_visible_to(request.user, job_id)
    handle, filename = services.import_report_open(actor=request.user, job=job)
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=REPORT_CONTENT_TYPE
    )
    response["Cache-Control"] = "no-store"
    return response
