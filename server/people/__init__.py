"""Who the company deals with and who may do what: tenants, office users, drivers and
their PINs, roles and rights, bearer tokens, the audit log, and the register of ordering
parties (the record only; what is exchanged with them lives in `server.parties`).

May import: `server.platform`.
"""
