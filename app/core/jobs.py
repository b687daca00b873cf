"""Background jobs: requested in the business transaction, run by RQ, idempotent.

    job = request_job(session, "audit.export_csv", params, request_id, requested_by=user)

writes a ``jobs`` row in the caller's transaction (transactional outbox) and hands it to
RQ after that transaction commits; nothing is enqueued if it rolls back. ``run_job``
(the RQ entry point) takes the tenant's slug and the job id, re-enters the tenant
itself, claims the row, runs the registered kind, stores its output under a
deterministic key and records one ``documents`` row: running it twice gives one
document. Failures are retried with backoff (``RETRY_DELAYS``) until ``max_attempts``;
a ``JobRefused`` is final at once. ``sweep`` re-enqueues requested jobs that never
reached RQ and jobs whose worker died (stale heartbeat); the worker runs it every minute.
RQ runs jobs at least once, not exactly once, and everything here assumes that.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

from flask import current_app, has_app_context
from rq import Queue
from rq.job import Job as RQJob
from rq.exceptions import NoSuchJobError
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from app.compliance.models import Document, Job
from app.compliance.operations import Actor, record_event, set_context
from app.core.db import db
from app.core.redis import get_queue, get_redis
from app.core.storage import get_storage
from tenants.registry import TenantRef, by_slug
from tenants.session import current_tenant, pin, tenant_session

log = logging.getLogger(__name__)

RETRY_DELAYS = (5, 30, 120)  # seconds before the 2nd, 3rd, 4th attempt
HEARTBEAT_STALE_SECONDS = 300
LOST_AFTER_SECONDS = 60


class JobRefused(Exception):
    """A failure that retrying cannot fix (bad parameters, missing record)."""


@dataclass(frozen=True)
class Output:
    filename: str
    data: bytes
    content_type: str
    kind: str  # pdf | csv | xlsx | txt


@dataclass(frozen=True)
class JobKind:
    name: str
    #: returns the job's document, or None when the job found nothing to produce (a
    #: statement whose records did not change): the job is done without a document
    run: Callable[["JobContext"], Output | None]
    label: object
    #: manufacturer roles that may see and retry anyone's job of this kind
    roles: tuple[str, ...] = ("admin",)
    timeout: int = 1800
    #: called as ``on_done(session, job, document)`` in the transaction that records the
    #: document (None for a job without one), so the business record can point at it
    #: (e.g. an authorization's letter)
    on_done: Callable | None = None
    #: called as ``on_failed(session, job)`` in the transaction that marks the job failed
    #: for good (last attempt, refused, or its worker died on the last attempt)
    on_failed: Callable | None = None
    #: dealer or hospital roles a colleague needs to see the job and its document (empty:
    #: any colleague of the dealer or hospital it was made for)
    portal_roles: tuple[str, ...] = ()


KINDS: dict[str, JobKind] = {}


def job_kind(name: str, label, roles: tuple[str, ...] = ("admin",), timeout: int = 1800, on_done: Callable | None = None,
             on_failed: Callable | None = None, portal_roles: tuple[str, ...] = ()):
    def register(fn):
        KINDS[name] = JobKind(name, fn, label, roles, timeout, on_done, on_failed, portal_roles)
        return fn

    return register


@dataclass
class JobContext:
    """What a job's code gets: the tenant, its parameters, a pinned session for its
    reads, and ``progress`` (committed at once, so the page's bar moves)."""

    tenant: TenantRef
    job_id: int
    params: dict
    requested_by_id: int | None
    _last_beat: float = field(default=0.0)

    def session(self):
        return tenant_session(db.session, self.tenant)

    def progress(self, percent: int, message: str | None = None) -> None:
        now = time.monotonic()
        if percent < 100 and now - self._last_beat < 0.5:
            return  # at most two writes a second
        self._last_beat = now
        with Session(db.engine) as side:
            pin(side, self.tenant)
            side.execute(
                text("UPDATE jobs SET progress = :p, message = coalesce(:m, message), heartbeat_at = now() WHERE id = :id"),
                {"p": max(0, min(100, int(percent))), "m": message, "id": self.job_id},
            )
            side.commit()


def rq_id(tenant_slug: str, job_id: int) -> str:
    return f"medchannel-{tenant_slug}-{job_id}"


def request_job(session, kind: str, params: dict, request_id: str, requested_by=None,
                entity: tuple[str | None, str | None] = (None, None)) -> Job:
    """The job for ``request_id``: created (and queued after commit) the first time,
    the same row every later time (a double-click, a retried request)."""
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    tenant = current_tenant(session)
    existing = session.scalar(select(Job).where(Job.request_id == request_id))
    if existing is not None:
        return existing
    job = Job(request_id=request_id, kind=kind, params=params, entity_type=entity[0], entity_id=entity[1],
              requested_by_id=getattr(requested_by, "id", None),
              dealer_id=getattr(requested_by, "dealer_id", None), hospital_id=getattr(requested_by, "hospital_id", None))
    session.add(job)
    session.flush()
    record_event(session, "request_job", "jobs", job.id, after={"kind": kind, "params": params})
    session.info.setdefault("jobs_to_enqueue", []).append((tenant.slug, job.id, KINDS[kind].timeout))
    return job


@event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session):
    pending = session.info.pop("jobs_to_enqueue", None)
    for slug, job_id, timeout in pending or ():
        try:
            enqueue(slug, job_id, timeout)
        except Exception:  # Redis away: the row stays 'requested' and the sweeper enqueues it
            log.exception("could not enqueue job %s/%s; the sweeper will", slug, job_id)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session):
    session.info.pop("jobs_to_enqueue", None)


def enqueue(tenant_slug: str, job_id: int, timeout: int = 1800, delay: int = 0, queue: Queue | None = None) -> None:
    queue = queue or get_queue()
    kwargs = dict(job_id=rq_id(tenant_slug, job_id), job_timeout=timeout, result_ttl=3600, failure_ttl=7 * 86400)
    if delay:
        queue.enqueue_in(timedelta(seconds=delay), run_job, tenant_slug, job_id, **kwargs)
    else:
        queue.enqueue(run_job, tenant_slug, job_id, **kwargs)


_app = None


def _application():
    global _app
    if has_app_context():
        return current_app._get_current_object()
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app


_pool_pid: int | None = None


def run_job(tenant_slug: str, job_id: int) -> str:
    """RQ entry point. Safe to run any number of times for the same job."""
    global _pool_pid
    app = _application()
    with app.app_context():
        if _pool_pid != os.getpid():  # a forked work horse: never reuse connections inherited across the fork
            db.engine.dispose(close=False)
            _pool_pid = os.getpid()
        try:
            return _run(tenant_slug, job_id)
        finally:
            db.session.remove()


def _run(tenant_slug: str, job_id: int) -> str:
    tenant = by_slug(db.session, tenant_slug)
    db.session.rollback()
    if tenant is None or not tenant.active:
        return "tenant gone or suspended"
    with tenant_session(db.session, tenant) as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.status in ("done", "failed"):
            return f"nothing to do ({job.status if job else 'no such job'})"
        set_context(session, Actor.system(f"job {job.kind}"))
        job.status, job.attempts, job.error = "running", job.attempts + 1, None
        job.started_at = job.heartbeat_at = session.execute(select(func.now())).scalar()
        kind, params, request_id = KINDS.get(job.kind), dict(job.params), job.request_id
        ctx = JobContext(tenant, job_id, params, job.requested_by_id)
        attempts, max_attempts = job.attempts, job.max_attempts
    try:
        if kind is None:
            raise JobRefused(f"unknown job kind {job.kind!r}")
        output = kind.run(ctx)
    except Exception as exc:
        final = isinstance(exc, JobRefused) or attempts >= max_attempts
        with tenant_session(db.session, tenant) as session:
            set_context(session, Actor.system("job runner"))
            job = session.get(Job, job_id, with_for_update=True)
            job.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000]
            job.status = "failed" if final else "requested"
            if final:
                job.finished_at = session.execute(select(func.now())).scalar()
                record_event(session, "job_failed", "jobs", job_id, after={"kind": job.kind, "error": job.error[:500]})
                if kind is not None and kind.on_failed is not None:
                    kind.on_failed(session, job)
        if not final:
            enqueue(tenant_slug, job_id, kind.timeout if kind else 1800,
                    delay=RETRY_DELAYS[min(attempts - 1, len(RETRY_DELAYS) - 1)])
        log.warning("job %s/%s attempt %s failed%s: %s", tenant_slug, job_id, attempts,
                    "" if final else ", retrying", exc)
        return "failed" if final else "retry scheduled"
    if output is None:
        return _done_without_document(tenant, job_id, kind)
    key = f"{tenant_slug}/{request_id}/{output.filename}"
    sha256 = get_storage().put(key, output.data)
    with tenant_session(db.session, tenant) as session:
        set_context(session, Actor.system(f"job {kind.name}"))
        job = session.get(Job, job_id, with_for_update=True)
        if job.document_id is not None:
            return "already done"  # another run finished first; same key, same document
        document = Document(kind=output.kind, filename=output.filename, content_type=output.content_type,
                            size=len(output.data), sha256=sha256, storage_key=key, job_id=job.id,
                            entity_type=job.entity_type, entity_id=job.entity_id, dealer_id=job.dealer_id,
                            hospital_id=job.hospital_id, created_by_id=job.requested_by_id)
        session.add(document)
        session.flush()
        job.document_id, job.status, job.progress = document.id, "done", 100
        job.finished_at = session.execute(select(func.now())).scalar()
        if kind.on_done is not None:
            kind.on_done(session, job, document)
    return "done"


def _done_without_document(tenant: TenantRef, job_id: int, kind: JobKind) -> str:
    with tenant_session(db.session, tenant) as session:
        set_context(session, Actor.system(f"job {kind.name}"))
        job = session.get(Job, job_id, with_for_update=True)
        if job.status == "done":
            return "already done"
        job.status, job.progress = "done", 100
        job.finished_at = session.execute(select(func.now())).scalar()
        session.flush()
        if kind.on_done is not None:
            kind.on_done(session, job, None)
    return "done"


def retry(session, job: Job) -> None:
    """Run a failed job again (the permitted roles' retry button)."""
    if job.status != "failed":
        return
    job.status, job.attempts, job.error, job.finished_at, job.progress = "requested", 0, None, None, 0
    record_event(session, "retry_job", "jobs", job.id)
    session.info.setdefault("jobs_to_enqueue", []).append(
        (current_tenant(session).slug, job.id, KINDS[job.kind].timeout if job.kind in KINDS else 1800))


# --- the sweeper ----------------------------------------------------------------------

def _rq_state(queue: Queue, slug: str, job_id: int) -> str | None:
    try:
        return RQJob.fetch(rq_id(slug, job_id), connection=queue.connection).get_status(refresh=False)
    except NoSuchJobError:
        return None


def sweep(engine, queue: Queue | None = None, stale_after: int = HEARTBEAT_STALE_SECONDS,
          lost_after: int = LOST_AFTER_SECONDS) -> list[str]:
    """Re-enqueue jobs that never reached RQ, and jobs whose worker died mid-run."""
    queue = queue or get_queue()
    actions = []
    with engine.connect() as conn:
        tenants = conn.execute(text(
            "SELECT id, slug, name, schema_name, role_name, status FROM public.tenants WHERE status = 'active'")).all()
        have_jobs = set(conn.execute(text(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'jobs'")).scalars())
        rows = []
        tenants = [t for t in tenants if t.schema_name in have_jobs]
        for i in range(0, len(tenants), 200):
            chunk = tenants[i:i + 200]
            sql = " UNION ALL ".join(
                f"SELECT {t.id} AS tenant_id, id, status, attempts, max_attempts, "
                f"extract(epoch FROM now() - requested_at) AS waited, "
                f"extract(epoch FROM now() - coalesce(heartbeat_at, started_at, requested_at)) AS silent "
                f"FROM \"{t.schema_name}\".jobs WHERE status IN ('requested', 'running')" for t in chunk)
            rows += conn.execute(text(sql)).all()
    by_id = {t.id: TenantRef(*t) for t in tenants}
    for row in rows:
        tenant = by_id[row.tenant_id]
        state = _rq_state(queue, tenant.slug, row.id)
        if row.status == "requested" and row.waited > lost_after and state not in ("queued", "scheduled", "started", "deferred"):
            enqueue(tenant.slug, row.id, queue=queue)
            actions.append(f"{tenant.slug}/{row.id}: requested {row.waited:.0f} s ago, not in RQ: enqueued")
        elif row.status == "running" and row.silent > stale_after:
            with tenant_session(db.session, tenant) as session:
                set_context(session, Actor.system("job sweeper"))
                job = session.get(Job, row.id, with_for_update=True)
                if job.status != "running":
                    continue
                job.error = f"worker stopped during attempt {job.attempts} (no heartbeat for {row.silent:.0f} s)"
                if job.attempts >= job.max_attempts:
                    job.status, job.finished_at = "failed", session.execute(select(func.now())).scalar()
                    record_event(session, "job_failed", "jobs", job.id, after={"error": job.error})
                    kind = KINDS.get(job.kind)
                    if kind is not None and kind.on_failed is not None:
                        kind.on_failed(session, job)
                else:
                    job.status = "requested"
                new_status = job.status
            if new_status == "requested":
                enqueue(tenant.slug, row.id, queue=queue)
                actions.append(f"{tenant.slug}/{row.id}: worker died (silent {row.silent:.0f} s): enqueued again")
            else:
                actions.append(f"{tenant.slug}/{row.id}: worker died on the last attempt: failed")
    return actions


#: Periodic tasks the worker runs after each sweep, ``fn(engine) -> list[str]`` (lines
#: for the log). Domains register theirs with ``@periodic`` (e.g. the daily expiry
#: watch); each must be cheap when there is nothing to do and safe to run twice.
PERIODIC: list[Callable] = []


def periodic(fn):
    PERIODIC.append(fn)
    return fn


def run_periodic(engine) -> list[str]:
    lines = []
    for fn in PERIODIC:
        try:
            lines += fn(engine)
        except Exception:
            log.exception("periodic task %s failed", fn.__name__)
    return lines


def start_sweeper_thread(app, every: int = 60) -> threading.Thread:
    """The worker's scheduled sweep and periodic tasks; a Redis lock lets one worker
    run them at a time."""

    def loop():
        while True:
            time.sleep(every)
            try:
                with app.app_context():
                    lock = get_redis().lock("medchannel:job-sweeper", timeout=every * 2, blocking=False)
                    if lock.acquire(blocking=False):
                        try:
                            for line in sweep(db.engine):
                                log.info("sweeper: %s", line)
                            for line in run_periodic(db.engine):
                                log.info("periodic: %s", line)
                        finally:
                            lock.release()
                    db.session.remove()
            except Exception:
                log.exception("job sweep failed")

    thread = threading.Thread(target=loop, name="job-sweeper", daemon=True)
    thread.start()
    return thread


# --- a probe, to check the pipeline end to end ---------------------------------------

@job_kind("platform.probe", "Pipeline probe", roles=("admin",))
def probe(ctx: JobContext) -> Output:
    """Waits ``seconds`` in steps (reporting progress), then writes a small text file."""
    seconds = float(ctx.params.get("seconds", 1))
    steps = 10
    for i in range(steps):
        time.sleep(seconds / steps)
        ctx.progress(int(100 * (i + 1) / steps))
    with ctx.session() as session:
        users = session.scalar(text("SELECT count(*) FROM users"))
    return Output("probe.txt", f"tenant {ctx.tenant.slug}: {users} users\n".encode(), "text/plain; charset=utf-8", "txt")
