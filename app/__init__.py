"""MedChannel (医械渠道通): the application factory."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, jsonify
from sqlalchemy import event, exc, text

from app import config as config_module
from app.extensions import babel, csrf, db, htmx, login_manager

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(config_module.load(Path(app.instance_path)))
    app.config.update(config or {})
    _resolve_services(app)

    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        "pool_size": app.config["DB_POOL_SIZE"],
        "max_overflow": app.config["DB_MAX_OVERFLOW"],
        "pool_recycle": app.config["DB_RECYCLE_SECONDS"],
    }
    db.init_app(app)
    with app.app_context():
        _bound_connection_lifetime(db.engine, app.config["DB_RECYCLE_AFTER_USES"])

    from app.core import i18n, redis as core_redis, web

    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone,
                   default_translation_directories=str(ROOT / "app" / "translations"))
    i18n.install_template_gettext(app)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    core_redis.init_app(app)
    web.init_app(app)

    from app.identity import loader  # noqa: F401  (registers the user loader)
    from app import models  # noqa: F401  (every table, for the audit listener and Alembic)
    from app.compliance import jobs as _compliance_jobs  # noqa: F401  (registers job kinds)
    from app.channel import authorizations as _authorizations  # noqa: F401  (registers the letter job)
    from app.compliance import expiry as _expiry  # noqa: F401  (registers the expiry watch job and schedule)
    from app.inventory import jobs as _inventory_jobs  # noqa: F401  (registers the daily stock expiry)
    from app.orders import jobs as _orders_jobs  # noqa: F401  (packing lists, re-allocation)
    from app.finance import jobs as _finance_jobs  # noqa: F401  (bank statement import, payment reminders)
    from app.rebates import ledger as _rebate_ledger  # noqa: F401  (registers the daily rebate expiry)
    from app.finance.statements import jobs as _statement_jobs  # noqa: F401  (statements and close-of-month runs)
    from app.service import recall_jobs as _recall_jobs  # noqa: F401  (the recall report PDF)
    from app.compliance import request_kinds as _request_kinds  # noqa: F401  (registers approval kinds)
    from app.rebates import accrual as _rebate_accrual, explain as _rebate_explain  # noqa: F401  (rebate engine:
    from app.rebates import settlement as _rebate_settlement  # noqa: F401  settle/accrue jobs, daily accrual, export)
    from app.service import plans as _service_plans  # noqa: F401  (registers the daily maintenance calendar)
    from app.service import escalation as _ticket_escalation  # noqa: F401  (escalates overdue service tickets)
    from app.compliance.imports import load_specs

    load_specs()  # import specs and list exports, registered by each domain
    from app.core import templating
    import portals

    templating.init_app(app)
    portals.register(app)

    @app.get("/healthz")
    def healthz():
        checks = {}
        try:
            db.session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except exc.SQLAlchemyError as e:
            checks["database"] = f"error: {type(e).__name__}"
        try:
            core_redis.get_redis().ping()
            checks["redis"] = "ok"
        except Exception as e:  # any Redis failure is a health failure, not a 500
            checks["redis"] = f"error: {type(e).__name__}"
        healthy = all(v == "ok" for v in checks.values())
        return jsonify(status="ok" if healthy else "degraded", **checks), 200 if healthy else 503

    from app import cli

    cli.init_app(app)
    return app


def _resolve_services(app: Flask) -> None:
    """With no DATABASE_URL / REDIS_URL, start (or reuse) the embedded servers."""
    from tenants import runtime

    instance = Path(app.instance_path)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = runtime.postgres_url(instance / "pg")
    elif app.config["DATABASE_URL"].startswith("postgresql://"):
        app.config["DATABASE_URL"] = "postgresql+psycopg://" + app.config["DATABASE_URL"][len("postgresql://"):]
    if not app.config.get("REDIS_URL"):
        app.config["REDIS_URL"] = runtime.redis_url(instance / "redis")


def _bound_connection_lifetime(engine, max_uses: int) -> None:
    """Recycle a pooled connection after ``max_uses`` checkouts: a backend that has
    visited many tenant schemas holds their catalog entries (~60 MiB per 1,000), and
    only a new backend gives that memory back."""

    @event.listens_for(engine, "checkout")
    def _count_use(dbapi_connection, record, proxy):
        uses = record.info.get("uses", 0) + 1
        record.info["uses"] = uses
        if uses > max_uses:
            record.info["uses"] = 0
            raise exc.DisconnectionError("recycled after %d uses" % max_uses)
