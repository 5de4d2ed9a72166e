"""Alembic environment of an intermediate server: runs on the connection ``ipnsim.storage.migrate`` hands over."""

from alembic import context
from sqlalchemy.engine import Connection

from intermediate_server.db import Base

connection: Connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
