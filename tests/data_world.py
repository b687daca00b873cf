"""A tenant of its own for the import and export tests: the acme demo world seeded
under a throwaway slug, so that rows those tests add never change the counts other
test modules expect of acme."""
import uuid

import pytest


@pytest.fixture(scope="module", name="world")
def world_tenant(app):
    """The slug of a tenant seeded like acme (same codes, names and users), dropped afterwards."""
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from app.demo import data
    from app.demo.seed import seed_tenant
    from tenants.provisioning import create_tenant, drop_tenant
    from tenants.session import tenant_session

    slug = "dm" + uuid.uuid4().hex[:8]
    with app.app_context():
        tenant = create_tenant(db.engine, slug, "数据迁移测试")
        with tenant_session(db.session, tenant) as session:
            set_context(session, Actor.system("test seed"))
            seed_tenant(session, slug, data.TENANTS["acme"])
        db.session.remove()
    yield slug
    with app.app_context():
        drop_tenant(db.engine, slug)
