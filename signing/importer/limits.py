"""The limits of a contract import (issue 9 items 5, 6 and 17), each overridable in Django settings
under its name; read through these functions, not at import, so tests can change them with
pytest-django's `settings` (the task's time limits excepted: Celery reads them when the task is
declared). docs/signing.md lists them with their reasons.
"""

from __future__ import annotations

from django.conf import settings

MB = 1024 * 1024

DEFAULTS: dict[str, int] = {
    # The largest upload accepted at all (an import job).
    "SIGNING_IMPORT_MAX_BYTES": 64 * MB,
    # The largest file POST /api/v1/contracts/import imports within the request; a larger one
    # is an import job (POST /api/v1/contracts/import-jobs, or the portal's import page).
    "SIGNING_IMPORT_SYNC_MAX_BYTES": 2 * MB,
    # An XLSX is a zip archive: what its members add up to once uncompressed, the compression
    # ratio a member (or the whole) may have, and how many members it may hold. Checked from
    # the archive's directory before anything is decompressed (a zip bomb is refused unread).
    # A city's 228,800 contracts make 50-110 MB of sheet XML (shared or inline strings) at a
    # ratio of ~15. The sheet is read as a stream; its shared-string table is held in memory
    # whole, so it has its own, lower limit.
    "SIGNING_IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES": 256 * MB,
    "SIGNING_IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES": 64 * MB,
    "SIGNING_IMPORT_XLSX_MAX_RATIO": 100,
    "SIGNING_IMPORT_XLSX_MAX_MEMBERS": 1000,
    # An import job's Celery time limits (seconds): the soft one stops the import between two
    # chunks' worth of rows (what is written stays; a re-run skips it), the hard one kills it.
    "SIGNING_IMPORT_TASK_SOFT_TIME_LIMIT": 30 * 60,
    "SIGNING_IMPORT_TASK_TIME_LIMIT": 31 * 60,
    # How many times a job interrupted by a lost worker is started again before it fails.
    "SIGNING_IMPORT_MAX_ATTEMPTS": 3,
    # Days an error report is kept for download (it holds masked ID numbers and file text).
    "SIGNING_IMPORT_REPORT_RETENTION_DAYS": 30,
}

# A member smaller than this is not held to the ratio: tiny XML parts compress very well.
RATIO_CHECKED_FROM_BYTES = MB
# Row errors an import keeps in memory (the API's list, the job's preview); every error goes to
# the report as it is found.
ERRORS_KEPT = 1000
ERRORS_PREVIEWED = 20


def limit(name: str) -> int:
    return int(getattr(settings, name, DEFAULTS[name]))
