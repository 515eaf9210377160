"""Who reacts to what: every subscription of one area to another's events, in one place
(`server.platform.events` says why). The app, the command line and the tests import this
module; importing it again changes nothing.

- an invoice or credit note stored by the office (`DocumentStored`) opens, reduces or
  settles the ordering party's claim and moves its file (`server.parties.claim_money`).
"""

from __future__ import annotations

from server.parties import claim_money
from server.platform import events

events.subscribe(events.DocumentStored, claim_money.on_document_stored)
