"""Tenants: resolution by Host, isolation in PostgreSQL, provisioning and migrations."""
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.core.db import db
from tenants.migrations import migrate_all, schema_versions, tenant_head
from tenants.provisioning import ProvisioningError, create_tenant, set_status
from tenants.registry import TEMPLATE_SCHEMA, by_slug, validate_slug


def test_host_picks_the_tenant(browser):
    acme = browser("acme").get("/login").get_data(as_text=True)
    globex = browser("globex").get("/login").get_data(as_text=True)
    assert "艾科医疗科技（苏州）有限公司" in acme and "格洛贝斯" not in acme
    assert "格洛贝斯生物医学（深圳）有限公司" in globex and "艾科医疗" not in globex


def test_host_with_port_and_capitals_resolves(browser):
    response = browser("acme", host="ACME.localhost:5000").get("/login")
    assert response.status_code == 200
    assert "艾科医疗科技" in response.get_data(as_text=True)


@pytest.mark.parametrize("host", ["nope.localhost", "acme.evil.localhost", "acme.example.com", "t__template.localhost"])
def test_unknown_host_is_404_without_tenant_data(browser, host):
    response = browser(None, host=host).get("/login")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "未知地址" in body
    assert "艾科" not in body and "格洛贝斯" not in body


def test_bare_domain_shows_platform_page_and_no_tenant(browser):
    response = browser(None, host="localhost").get("/")
    assert response.status_code == 200
    assert "艾科" not in response.get_data(as_text=True)
    assert browser(None, host="localhost").get("/login").status_code == 404


def test_custom_domain_reaches_its_tenant(browser, fresh_tenant):
    tenant = fresh_tenant(name="定制域名医疗", domains=("portal.dingzhi-med.cn",))
    response = browser(None, host="portal.dingzhi-med.cn").get("/login")
    assert response.status_code == 200
    assert "定制域名医疗" in response.get_data(as_text=True)
    assert browser(tenant.slug).get("/login").status_code == 200


def test_suspended_tenant_is_refused(app, browser, fresh_tenant):
    tenant = fresh_tenant(name="暂停测试公司")
    with app.app_context():
        set_status(db.engine, tenant.slug, "suspended")
    response = browser(tenant.slug).get("/login")
    assert response.status_code == 403
    assert "账号已暂停" in response.get_data(as_text=True)
    with app.app_context():
        set_status(db.engine, tenant.slug, "active")
    assert browser(tenant.slug).get("/login").status_code == 200


def test_tenant_role_cannot_read_another_tenants_schema(app, as_tenant):
    with as_tenant("acme") as session:
        assert session.execute(text("SELECT count(*) FROM users")).scalar() > 0
        with pytest.raises(DBAPIError, match="permission denied"):
            with session.begin_nested():
                session.execute(text("SELECT * FROM t_globex.users"))
        with pytest.raises(DBAPIError, match="permission denied"):
            with session.begin_nested():
                session.execute(text("SELECT * FROM public.tenants"))
        with pytest.raises(DBAPIError, match="permission denied|must be owner"):
            with session.begin_nested():
                session.execute(text("CREATE TABLE t_acme.sneaky (id int)"))


def test_pinning_leaves_nothing_on_the_pooled_connection(app, as_tenant):
    with as_tenant("acme") as session:
        inside = session.execute(text("SELECT current_setting('search_path'), current_user")).one()
    assert "t_acme" in inside[0] and inside[1].endswith("__t_acme")
    with app.app_context():
        with db.engine.connect() as conn:
            path, user = conn.execute(text("SELECT current_setting('search_path'), current_user")).one()
    assert "t_acme" not in path
    assert not user.endswith("__t_acme")


def test_new_tenant_is_a_faithful_clone_of_the_template(app, fresh_tenant):
    tenant = fresh_tenant()

    def shape(conn, schema):
        q = {
            "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default IS NOT NULL, is_identity "
                       "FROM information_schema.columns WHERE table_schema = :s",
            "constraints": "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                           "WHERE connamespace = CAST(:s AS regnamespace)",
            "indexes": "SELECT indexname, replace(indexdef, :s || '.', '') FROM pg_indexes WHERE schemaname = :s",
            "triggers": "SELECT tgname, tgrelid::regclass::text LIKE '%audit_events' FROM pg_trigger t "
                        "JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = CAST(:s AS regnamespace) AND NOT tgisinternal",
        }
        conn.execute(text("SET LOCAL search_path TO public"))
        out = {}
        for key, sql in q.items():
            rows = conn.execute(text(sql), {"s": schema}).all()
            out[key] = sorted(tuple(str(v).replace(schema + ".", "") for v in r) for r in rows)
        return out

    with app.app_context():
        with db.engine.begin() as conn:
            template, clone = shape(conn, TEMPLATE_SCHEMA), shape(conn, tenant.schema)
            version = schema_versions(conn, [tenant.schema])[tenant.schema]
    for key in template:
        assert set(clone[key]) ^ set(template[key]) == set(), key
    assert len(clone["triggers"]) == 5  # audit append-only ×2, stock ledger apply + append-only, rebate ledger
    assert version == tenant_head()


def test_identity_sequences_are_the_clones_own(app, fresh_tenant, as_tenant):
    from app.catalog.models import ProductLine

    first, second = fresh_tenant(), fresh_tenant()
    for tenant in (first, second):
        with as_tenant(tenant) as session:
            line = ProductLine(code="CV", name="心血管", name_en="Cardiovascular")
            session.add(line)
            session.flush()
            assert line.id == 1


@pytest.mark.parametrize("slug,ok", [("acme", True), ("acme-med", True), ("a", False), ("Acme", False),
                                     ("acme_med", False), ("-acme", False), ("www", False), ("x" * 31, False)])
def test_slug_rules(slug, ok):
    assert (validate_slug(slug) is None) is ok


def test_duplicate_and_invalid_tenants_are_refused(app):
    with app.app_context():
        with pytest.raises(ProvisioningError, match="already exists"):
            create_tenant(db.engine, "acme", "Again")
        with pytest.raises(ProvisioningError, match="reserved"):
            create_tenant(db.engine, "template", "Template")


def test_migrate_all_skips_schemas_at_head(app):
    with app.app_context():
        summary = migrate_all(db.engine, jobs=2)
    assert summary.total >= 2
    assert summary.up_to_date == summary.total
    assert summary.results == []


def test_migrate_all_upgrades_stale_schemas_in_parallel_and_records_each(app, fresh_tenant, as_tenant):
    stale = [fresh_tenant(), fresh_tenant(), fresh_tenant()]
    with app.app_context():
        with db.engine.begin() as conn:
            for tenant in stale:  # an empty schema: as if created before any migration
                conn.execute(text(f'DROP SCHEMA "{tenant.schema}" CASCADE'))
                conn.execute(text(f'CREATE SCHEMA "{tenant.schema}"'))
        summary = migrate_all(db.engine, jobs=2)
        assert sorted(r.schema for r in summary.results) == sorted(t.schema for t in stale)
        assert not summary.failed
        with db.engine.connect() as conn:
            versions = schema_versions(conn, [t.schema for t in stale])
            recorded = conn.execute(
                text("SELECT schema_name, duration_ms, status FROM public.schema_migration_runs WHERE schema_name = ANY(:s)"),
                {"s": [t.schema for t in stale]},
            ).all()
    assert set(versions.values()) == {tenant_head()}
    assert sorted(r.schema_name for r in recorded) == sorted(t.schema for t in stale)
    assert all(r.status == "ok" and r.duration_ms >= 0 for r in recorded)
    # the re-migrated schemas work for their own role again
    with as_tenant(stale[0]) as session:
        assert session.execute(text("SELECT count(*) FROM users")).scalar() == 0


def test_cli_create_list_suspend_drop(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["tenants", "create", "clitest", "--name", "命令行测试"])
    assert result.exit_code == 0, result.output
    assert "created clitest" in result.output
    listed = runner.invoke(args=["tenants", "list"]).output
    assert "clitest" in listed and "active" in listed
    assert runner.invoke(args=["tenants", "suspend", "clitest"]).exit_code == 0
    assert "suspended" in runner.invoke(args=["tenants", "list"]).output
    assert runner.invoke(args=["tenants", "drop", "clitest"]).exit_code != 0  # needs --yes
    assert runner.invoke(args=["tenants", "drop", "clitest", "--yes"]).exit_code == 0
    with app.app_context():
        assert by_slug(db.session, "clitest") is None
        db.session.rollback()
        roles = db.session.execute(text("SELECT count(*) FROM pg_roles WHERE rolname LIKE '%__t_clitest'")).scalar()
    assert roles == 0
    assert runner.invoke(args=["tenants", "migrate", "--all"]).exit_code == 0


def test_host_cache_remembers_for_its_ttl_only(app, fresh_tenant):
    from tenants.registry import HostCache

    tenant = fresh_tenant(name="缓存测试")
    host = f"{tenant.slug}.localhost"
    cache = HostCache(ttl=60)
    with app.app_context():
        assert cache.resolve(db.session, host, "localhost").status == "active"
        set_status(db.engine, tenant.slug, "suspended")
        assert cache.resolve(db.session, host, "localhost").status == "active"  # within the TTL
        cache.ttl = 0
        cache.clear()
        assert cache.resolve(db.session, host, "localhost").status == "suspended"
        assert cache.resolve(db.session, "nope.localhost", "localhost") is None
        set_status(db.engine, tenant.slug, "active")
        db.session.rollback()
