"""Alembic environment for the tenant tree, used by developers to autogenerate a
revision against the template schema:

    flask --app wsgi tenants revision -m "add skus.registration"

At run time, tenants.migrations drives these revisions directly for each schema (one
loaded script directory for all of them), not through this file."""
from alembic import context
from sqlalchemy import text

from app.core.db import TenantBase
import app.models  # noqa: F401

config = context.config
connection = config.attributes["connection"]
schema = config.attributes.get("schema", "t__template")
connection.execute(text("SELECT set_config('search_path', :p, true)"), {"p": f'"{schema}", public'})
context.configure(
    connection=connection,
    target_metadata=TenantBase.metadata,
    version_table_schema=schema,
    include_schemas=False,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
