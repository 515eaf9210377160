"""The office's books: missions and contracts, the server's valuation, invoices and
credit notes (numbering, rendering, the seller), reconciliation and its rules, anomalies
and their resolutions, drivers' registers, card settlements, approval codes, office
decisions sent to tablets, closings, the server journal, archives and their verifier.

May import: `server.platform`, `server.people`. An area above that must react to what
happens here (a claim opened when an invoice is issued) subscribes to an event
(`server.platform.events`) instead of being imported.
"""
