"""Command line: ``flask --app wsgi <group> <command>``.

    tenants create SLUG --name NAME [--domain D]   tenants list
    tenants migrate [--all | SLUG…] [--jobs N]     tenants suspend|activate SLUG
    tenants drop SLUG --yes                        tenants revision -m MESSAGE
    demo seed        demo run                      worker
    audit verify SLUG                              outbox SLUG
    stock check [SLUG | --all]
"""
from __future__ import annotations

import sys
import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import create_engine, select

from app.core.db import db

tenants_cli = AppGroup("tenants", help="Create, list, migrate, suspend and drop tenants.")
demo_cli = AppGroup("demo", help="Demo data and the one-command demo.")
audit_cli = AppGroup("audit", help="The audit trail.")


def _tenant_or_exit(slug: str):
    from tenants.registry import by_slug

    tenant = by_slug(db.session, slug)
    db.session.rollback()
    if tenant is None:
        raise click.ClickException(f"no tenant '{slug}'")
    return tenant


@tenants_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The manufacturer's name, as users see it.")
@click.option("--domain", "domains", multiple=True, help="A custom domain that also reaches this tenant.")
def tenants_create(slug, name, domains):
    from tenants.migrations import upgrade_public
    from tenants.provisioning import ProvisioningError, create_tenant

    upgrade_public(db.engine)
    t0 = time.perf_counter()
    try:
        tenant = create_tenant(db.engine, slug, name, tuple(domains))
    except ProvisioningError as err:
        raise click.ClickException(str(err))
    click.echo(f"created {tenant.slug} (schema {tenant.schema}, role {tenant.role}) in {time.perf_counter() - t0:.3f} s")


@tenants_cli.command("list")
def tenants_list():
    from tenants.migrations import schema_versions, tenant_head
    from tenants.registry import all_tenants

    rows = all_tenants(db.session)
    with db.engine.connect() as conn:
        versions = schema_versions(conn, [t.schema_name for t in rows])
    head = tenant_head()
    click.echo(f"{'slug':<20} {'status':<10} {'schema':<24} {'version':<14} name")
    for t in rows:
        v = versions.get(t.schema_name) or "-"
        mark = "" if v == head else " (behind)"
        click.echo(f"{t.slug:<20} {t.status:<10} {t.schema_name:<24} {v + mark:<14} {t.name}")


@tenants_cli.command("migrate")
@click.argument("slugs", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every tenant (and the template).")
@click.option("--jobs", default=2, show_default=True, help="Schemas migrated in parallel.")
def tenants_migrate(slugs, all_, jobs):
    from tenants.migrations import migrate_all, upgrade_public

    if not all_ and not slugs:
        raise click.UsageError("name tenants or pass --all")
    upgrade_public(db.engine)
    summary = migrate_all(db.engine, jobs=jobs, only=None if all_ else list(slugs))
    for r in summary.results:
        state = f"FAILED {r.error}" if r.error else "ok"
        click.echo(f"{r.schema:<28} {r.from_revision or '-'} -> {r.to_revision}  {r.duration_ms} ms  {state}")
    click.echo(
        f"{summary.total} tenant schemas: {summary.up_to_date} already at head, {len(summary.results)} migrated, "
        f"{len(summary.failed)} failed, {summary.seconds:.2f} s"
    )
    if summary.failed:
        sys.exit(1)


def _set_status(slug: str, status: str, done: str) -> None:
    from tenants.provisioning import ProvisioningError, set_status

    try:
        set_status(db.engine, slug, status)
    except ProvisioningError as err:
        raise click.ClickException(str(err))
    click.echo(f"{done} {slug}")


@tenants_cli.command("suspend")
@click.argument("slug")
def tenants_suspend(slug):
    _set_status(slug, "suspended", "suspended")


@tenants_cli.command("activate")
@click.argument("slug")
def tenants_activate(slug):
    _set_status(slug, "active", "activated")


@tenants_cli.command("drop")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Confirm: the schema and all its data are deleted.")
def tenants_drop(slug, yes):
    from tenants.provisioning import ProvisioningError, drop_tenant

    if not yes:
        raise click.UsageError("dropping deletes the tenant's data for good; pass --yes")
    try:
        drop_tenant(db.engine, slug)
    except ProvisioningError as err:
        raise click.ClickException(str(err))
    click.echo(f"dropped {slug}")


@tenants_cli.command("revision")
@click.option("-m", "message", required=True)
@click.option("--autogenerate/--empty", default=True)
def tenants_revision(message, autogenerate):
    """Write a new tenant migration, compared against the template schema."""
    from alembic import command

    from tenants.migrations import TENANT_TREE, alembic_config, upgrade_public
    from tenants.provisioning import ensure_template
    from tenants.registry import TEMPLATE_SCHEMA

    upgrade_public(db.engine)  # the template's triggers call public functions
    ensure_template(db.engine)
    cfg = alembic_config(TENANT_TREE)
    # Autogenerate compares against the dialect's default schema, which PostgreSQL
    # reports from the search_path at connect time: connect with the template first.
    engine = create_engine(db.engine.url, connect_args={"options": f"-csearch_path={TEMPLATE_SCHEMA}"})
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=autogenerate)
    engine.dispose()


@demo_cli.command("seed")
def demo_seed():
    """Create and fill the demo tenants (acme, globex); does nothing twice."""
    from app.demo.seed import seed_all

    for line in seed_all(db.engine, db.session):
        click.echo(line)


@demo_cli.command("run")
@click.option("--port", default=None, type=int, envvar="PORT", help="Web port (default 5000).")
def demo_run(port):
    """Migrate, seed, then serve the web app and one RQ worker until Ctrl-C."""
    from app.demo.runner import run

    run(current_app, port or 5000)


@audit_cli.command("verify")
@click.argument("slug")
def audit_verify(slug):
    """Walk the tenant's audit chain; exit 1 naming the first broken event."""
    from app.compliance.queries import verify_chain
    from tenants.session import tenant_session

    tenant = _tenant_or_exit(slug)
    with tenant_session(db.session, tenant) as session:
        check = verify_chain(session)
    if check.ok:
        click.echo(f"{slug}: {check.events} audit events, chain intact")
    else:
        click.echo(f"{slug}: chain broken at event {check.broken_at}: {check.problem}", err=True)
        sys.exit(1)


@click.command("outbox")
@with_appcontext
@click.argument("slug")
@click.option("--limit", default=10)
def outbox(slug, limit):
    """Show the newest queued mails of a tenant (password resets, invitations)."""
    from app.identity.models import OutboxMessage
    from tenants.session import tenant_session

    tenant = _tenant_or_exit(slug)
    with tenant_session(db.session, tenant) as session:
        for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)):
            click.echo(f"--- #{m.id} {m.created_at:%Y-%m-%d %H:%M} to {m.to_address}: {m.subject}\n{m.body}\n")


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--no-fork", is_flag=True,
              help="Run each job in the worker process itself (RQ's SimpleWorker) instead of a forked work horse: "
                   "warm caches and no fork per job (statement PDFs: ~3x the throughput); a job that crashes the "
                   "interpreter takes the worker with it, and memory a job grew stays with the process.")
@click.option("--max-jobs", type=click.IntRange(1), default=None,
              help="Stop after this many jobs (with --no-fork: let the supervisor start a fresh process, so memory "
                   "a large job grew is given back).")
def worker(burst, no_fork, max_jobs):
    """Run an RQ worker (with its scheduler) on the app's Redis."""
    from rq import SimpleWorker, Worker

    from app.core.redis import get_queue, get_redis

    from app.core.jobs import start_sweeper_thread

    from app.core.pdf import warm_up

    queues = [get_queue(name) for name in current_app.config["RQ_QUEUES"]]
    warm_up()  # once here, not once per forked work horse
    if not burst:
        start_sweeper_thread(current_app._get_current_object())
    (SimpleWorker if no_fork else Worker)(queues, connection=get_redis()).work(with_scheduler=True, burst=burst,
                                                                                max_jobs=max_jobs)


jobs_cli = AppGroup("jobs", help="Background jobs.")


@jobs_cli.command("sweep")
@click.option("--stale-after", default=300, show_default=True, help="Seconds without a heartbeat before a running job counts as lost.")
@click.option("--lost-after", default=60, show_default=True, help="Seconds a requested job may wait before it is enqueued again.")
def jobs_sweep(stale_after, lost_after):
    """Re-enqueue requested jobs that never reached RQ and jobs whose worker died."""
    from app.core.jobs import sweep

    actions = sweep(db.engine, stale_after=stale_after, lost_after=lost_after)
    for line in actions:
        click.echo(line)
    click.echo(f"{len(actions)} job(s) acted on")


@jobs_cli.command("probe")
@click.argument("slug")
@click.option("--seconds", default=2.0, show_default=True)
def jobs_probe(slug, seconds):
    """Request a probe job in a tenant (checks worker, storage and documents end to end)."""
    import uuid

    from app.compliance.operations import Actor, set_context
    from app.core.jobs import request_job
    from tenants.session import tenant_session

    tenant = _tenant_or_exit(slug)
    with tenant_session(db.session, tenant) as session:
        set_context(session, Actor.system("cli"))
        job = request_job(session, "platform.probe", {"seconds": str(seconds)}, uuid.uuid4().hex)  # audit values are never floats
        job_id = job.id
    click.echo(f"requested probe job {job_id} in {slug}")


stock_cli = AppGroup("stock", help="Stock ledger checks.")


@stock_cli.command("check")
@click.argument("slug", required=False)
@click.option("--all", "all_", is_flag=True, help="Every active tenant.")
def stock_check(slug, all_):
    """Prove the stock balances equal the ledger's sums; exit 1 listing the mismatches."""
    from app.inventory.queries import balance_count, reconcile
    from tenants.registry import TenantRef, all_tenants
    from tenants.session import tenant_session

    if bool(slug) == bool(all_):
        raise click.UsageError("name one tenant or pass --all")
    tenants = [_tenant_or_exit(slug)] if slug else [TenantRef.of(t) for t in all_tenants(db.session) if t.status == "active"]
    db.session.rollback()
    failed = False
    for tenant in tenants:
        with tenant_session(db.session, tenant) as session:
            count, mismatches = balance_count(session), reconcile(session)
        if mismatches:
            failed = True
            click.echo(f"{tenant.slug}: {len(mismatches)} balance(s) disagree with the ledger:", err=True)
            for m in mismatches:
                click.echo(f"  {m}", err=True)
        else:
            click.echo(f"{tenant.slug}: {count} balances, ledger reconciles")
    if failed:
        sys.exit(1)


def init_app(app: Flask) -> None:
    for command in (tenants_cli, demo_cli, audit_cli, jobs_cli, stock_cli, outbox, worker):
        app.cli.add_command(command)
