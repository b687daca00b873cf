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


def include_object(obj, name, type_, reflected, compare_to):
    # Autogenerate proposes additions and changes; it never drops a table that the
    # models do not know (the version table, the registry seen through the search
    # path): a revision that drops a table is written by hand.
    return not (type_ == "table" and reflected and compare_to is None)


context.configure(
    connection=connection,
    target_metadata=TenantBase.metadata,
    version_table_schema=schema,
    include_schemas=False,
    include_object=include_object,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
