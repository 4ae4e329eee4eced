"""Every write of family-doctor signing (docs/design.md §5).

Each service validates, locks (contract → resident → team, always in that order), saves, writes
its audit event and queues notifications through the outbox, all in one transaction. A refusal
raises a healthnet.errors DomainError, writes nothing else, and leaves one `<action>_refused`
audit event (written after the rollback, so attempts are on record too).

teams.py, contracts.py, followups.py, periodic.py and imports.py (import jobs) hold the services;
common.py what they share.
"""

from signing.services.common import Consent, SignResult
from signing.services.contracts import (
    contract_create,
    contract_renew,
    contract_sign,
    contract_switch,
    contract_terminate,
    contracts_end_for_departure,
)
from signing.services.followups import followup_record
from signing.services.imports import (
    import_job_create,
    import_job_run,
    import_jobs_sweep,
    import_report_open,
)
from signing.services.periodic import (
    contracts_expire,
    contracts_mark_renewal_due,
    followup_reminders_send,
)
from signing.services.teams import team_create, team_member_add

__all__ = [
    "Consent",
    "SignResult",
    "contract_create",
    "contract_renew",
    "contract_sign",
    "contract_switch",
    "contract_terminate",
    "contracts_end_for_departure",
    "contracts_expire",
    "contracts_mark_renewal_due",
    "followup_record",
    "followup_reminders_send",
    "import_job_create",
    "import_job_run",
    "import_jobs_sweep",
    "import_report_open",
    "team_create",
    "team_member_add",
]
