"""What is exchanged with ordering parties: their API keys, orders and messages in (intake,
replay, imports, bug reports), their files and lifecycle, cleaning rules, claims on their
invoices, payment advices and bank lines in, and receivables.

May import: `server.platform`, `server.people`, `server.office`.
"""
