"""Who reacts to what: every subscription of one area to another's events, in one place
(`server.platform.events` says why). The app, the command line and the tests import this
module; importing it again changes nothing.

- an invoice or credit note stored by the office (`DocumentStored`) opens, reduces or
  settles the ordering party's claim and moves its file (`server.parties.claim_money`).

And who does which job after the request (`server.platform.jobs`), and when
(`server.platform.schedule`: a cron line on each tenant's clock, once per slot):

- `render_document`: an issued document's PDF and Factur-X PDF
  (`server.office.document_files`); after its last attempt, an anomaly for the office.
- `check_signatures`: every signature of a pushed batch, verified soon after the push
  (`server.devices.signature_checks`); a failure, or the last attempt, an anomaly.
- `close_tenant`, nightly at 02:30: the tenant's closings up to yesterday, as
  `towline-server close` does (`server.office.tenant_jobs`); a refusal (an entry
  received into a closed day) fails the job at once, with its reason.
- `reconcile_tenant`, nightly at 03:30, and when the office asks for it: the whole
  tenant's reconciliation (`server.office.tenant_jobs`).
- `import_inbox` (the payment files waiting in the inbox, nightly at 02:00) and
  `archive_closed` (the archives of the closed months and years, nightly at 04:00) work
  in the server's `var/` and are declared by the command line (`server.cli.jobs`).
"""

from __future__ import annotations

from datetime import timedelta

from server.devices import signature_checks
from server.office import document_files, tenant_jobs
from server.parties import claim_money
from server.platform import events, jobs, schedule

WHOLE_TENANT_LEASE = timedelta(minutes=30)  # a quarter's reconciliation takes a minute or two

events.subscribe(events.DocumentStored, claim_money.on_document_stored)
jobs.register(
    document_files.RENDER,
    document_files.render,
    give_up=document_files.give_up,
    max_attempts=document_files.MAX_ATTEMPTS,
)
jobs.register(
    signature_checks.KIND,
    signature_checks.check,
    give_up=signature_checks.give_up,
    max_attempts=signature_checks.MAX_ATTEMPTS,
)
jobs.register(tenant_jobs.CLOSE, tenant_jobs.close_tenant, max_attempts=3, lease=WHOLE_TENANT_LEASE)
jobs.register(
    tenant_jobs.RECONCILE, tenant_jobs.reconcile_tenant, max_attempts=3, lease=WHOLE_TENANT_LEASE
)
schedule.declare(tenant_jobs.CLOSE, "30 2 * * *")
schedule.declare(tenant_jobs.RECONCILE, "30 3 * * *")
