"""Alembic environment: runs migrations on the connection the server hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from server.platform.tables import metadata

config = context.config
connection = config.attributes.get("connection")
target_metadata = metadata


def run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:  # `alembic` on the command line, for writing new migrations
    with create_engine(config.get_main_option("sqlalchemy.url") or "").connect() as conn:
        run(conn)
