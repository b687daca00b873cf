"""Alembic environment for schema ``public`` (the tenant registry and platform data).
Run by ``flask --app wsgi tenants migrate``; the connection is handed in."""
from alembic import context

from app.core.db import PublicModel
import tenants.models  # noqa: F401

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=PublicModel.metadata,
    version_table_schema="public",
    include_schemas=True,
    include_name=lambda name, type_, parent: type_ != "schema" or name == "public",
)
with context.begin_transaction():
    context.run_migrations()
