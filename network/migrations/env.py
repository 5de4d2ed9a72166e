"""Alembic environment of the hub: runs on the connection handed over by ``network.db.migrate``."""

from alembic import context
from sqlalchemy.engine import Connection

from network.db import Base

connection: Connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
