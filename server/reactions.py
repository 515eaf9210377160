"""Who reacts to what: every subscription of one area to another's events, in one place
(`server.platform.events` says why). The app, the command line and the tests import this
module; importing it again changes nothing.

- an invoice or credit note stored by the office (`DocumentStored`) opens, reduces or
  settles the ordering party's claim and moves its file (`server.parties.claim_money`).

And who does which job after the request (`server.platform.jobs`):

- `render_document`: an issued document's PDF and Factur-X PDF
  (`server.office.document_files`); after its last attempt, an anomaly for the office.
- `check_signatures`: every signature of a pushed batch, verified soon after the push
  (`server.devices.signature_checks`); a failure, or the last attempt, an anomaly.
"""

from __future__ import annotations

from server.devices import signature_checks
from server.office import document_files
from server.parties import claim_money
from server.platform import events, jobs

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
