"""The ground every area stands on: the database (engine, tables, migrations), the
installation's keys, the API's errors, the change feed tablets pull, the in-process
events one area raises for another, and what a request needs (`web`).

May import: the core (`shared`) and libraries. Never another area of the server.
"""
