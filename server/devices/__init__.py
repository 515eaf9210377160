"""The tablets: enrolment, sessions and revocation, the push that stores their signed
journals (and what the office derives from new entries: `ingest`), the pull of changes,
and the photos and signatures they upload.

May import: `server.platform`, `server.people`, `server.office`.
"""
