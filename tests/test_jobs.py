"""Background jobs and documents: outbox, idempotency, retries, a killed worker, the
progress fragment, downloads and who may make them, PDFs."""
import io
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import pytest
from sqlalchemy import func, select, text

from app.compliance.models import Document, Job
from app.core import jobs
from app.core.db import db
from app.identity.models import User
from tests.conftest import ROOT


def _request(as_tenant, slug="acme", kind="platform.probe", params=None, by=None, request_id=None):
    with as_tenant(slug) as session:
        user = session.scalar(select(User).where(User.email == by)) if by else None
        job = jobs.request_job(session, kind, params or {"seconds": 0}, request_id or uuid.uuid4().hex, requested_by=user)
        return job.id


@pytest.fixture()
def run(app):
    """Run one job in this process, as a worker would (inside the test app)."""

    def go(slug, job_id):
        with app.app_context():
            return jobs.run_job(slug, job_id)

    return go


def _job(as_tenant, job_id, slug="acme"):
    with as_tenant(slug) as session:
        job = session.get(Job, job_id)
        docs = session.scalar(select(func.count()).select_from(Document).where(Document.job_id == job_id))
        return {"status": job.status, "attempts": job.attempts, "progress": job.progress, "error": job.error,
                "document_id": job.document_id, "documents": docs}


def test_job_reaches_rq_only_after_its_transaction_commits(app, as_tenant):
    from rq.job import Job as RQJob
    from rq.exceptions import NoSuchJobError

    with pytest.raises(RuntimeError):
        with as_tenant("acme") as session:
            job = jobs.request_job(session, "platform.probe", {"seconds": 0}, uuid.uuid4().hex)
            rolled_back_id = job.id
            raise RuntimeError("the business change failed")
    with app.app_context():
        from app.core.redis import get_redis

        with pytest.raises(NoSuchJobError):
            RQJob.fetch(jobs.rq_id("acme", rolled_back_id), connection=get_redis())
    job_id = _request(as_tenant)
    with app.app_context():
        assert RQJob.fetch(jobs.rq_id("acme", job_id), connection=get_redis()).get_status() == "queued"


def test_same_request_id_is_one_job(as_tenant):
    rid = uuid.uuid4().hex
    assert _request(as_tenant, request_id=rid) == _request(as_tenant, request_id=rid)


def test_running_a_job_twice_gives_one_document(app, as_tenant, run):
    job_id = _request(as_tenant)
    assert run("acme", job_id) == "done"
    assert run("acme", job_id).startswith("nothing to do")
    state = _job(as_tenant, job_id)
    assert state["status"] == "done" and state["progress"] == 100 and state["documents"] == 1
    with as_tenant("acme") as session:
        doc = session.get(Document, state["document_id"])
        with app.app_context():
            from app.core.storage import get_storage

            assert get_storage().get(doc.storage_key, doc.sha256).startswith(b"tenant acme:")


@jobs.job_kind("test.flaky", "flaky")
def _flaky(ctx):
    raise ConnectionError("database went away")


@jobs.job_kind("test.refused", "refused")
def _refused(ctx):
    raise jobs.JobRefused("no such statement")


def test_transient_failures_are_retried_with_backoff_then_fail(as_tenant, run):
    job_id = _request(as_tenant, kind="test.flaky")
    assert run("acme", job_id) == "retry scheduled"
    state = _job(as_tenant, job_id)
    assert state["status"] == "requested" and state["attempts"] == 1 and "database went away" in state["error"]
    assert run("acme", job_id) == "retry scheduled"
    assert run("acme", job_id) == "failed"
    state = _job(as_tenant, job_id)
    assert state["status"] == "failed" and state["attempts"] == 3 and state["documents"] == 0


def test_refused_jobs_fail_at_once(as_tenant, run):
    job_id = _request(as_tenant, kind="test.refused")
    assert run("acme", job_id) == "failed"
    assert _job(as_tenant, job_id)["attempts"] == 1


def test_killed_worker_is_finished_by_the_sweeper_with_exactly_one_document(app, as_tenant, worker_env, run, run_worker):
    run_worker()  # first finish what earlier tests left queued (packing lists…), so the timed workers below run only this job
    job_id = _request(as_tenant, params={"seconds": 6})
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=worker_env,
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            state = _job(as_tenant, job_id)
            if state["status"] == "running" and state["progress"] >= 10:
                break
            time.sleep(0.2)
        assert state["status"] == "running", state
    finally:
        # kill -9 the worker and its work horse (RQ puts the horse in its own session)
        import psutil

        doomed = [worker.pid] + [p.pid for p in psutil.Process(worker.pid).children(recursive=True)]
        for pid in doomed:
            os.kill(pid, signal.SIGKILL)
        worker.wait()
    time.sleep(1.5)
    assert _job(as_tenant, job_id)["status"] == "running"  # nobody told the database
    with app.app_context():
        # only the dead worker's job: jobs other tests requested and never ran are not this test's to re-run
        actions = jobs.sweep(db.engine, stale_after=1, lost_after=10**6)
    assert any(f"acme/{job_id}: worker died" in a for a in actions), actions
    finisher = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"], cwd=ROOT,
                              env=worker_env, capture_output=True, text=True, timeout=120)
    assert finisher.returncode == 0, finisher.stderr[-2000:]
    state = _job(as_tenant, job_id)
    assert state["status"] == "done" and state["attempts"] == 2 and state["documents"] == 1


def test_sweeper_enqueues_requested_jobs_lost_before_rq(app, as_tenant, run):
    from app.core.redis import get_redis

    job_id = _request(as_tenant)
    with app.app_context():
        get_redis().delete("rq:queue:default", f"rq:job:{jobs.rq_id('acme', job_id)}")  # Redis lost it
        assert jobs.sweep(db.engine, lost_after=3600) == []
        actions = jobs.sweep(db.engine, lost_after=0)
    assert any(f"acme/{job_id}: requested" in a for a in actions)
    assert run("acme", job_id) == "done"


def test_progress_fragment_polls_until_done_then_offers_the_download(signed_in, as_tenant, run):
    admin = signed_in("acme", "admin")
    job_id = _request(as_tenant, by="admin@acme.test")
    waiting = admin.get(f"/jobs/{job_id}", headers={"HX-Request": "true"})
    body = waiting.get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in body and "<progress" in body and "<html" not in body
    run("acme", job_id)
    done = admin.get(f"/jobs/{job_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hx-trigger" not in done
    link = re.search(r'href="(/documents/\d+)"', done).group(1)
    download = admin.get(link)
    assert download.status_code == 200 and download.data.startswith(b"tenant acme:")
    assert download.headers["X-Content-SHA256"]
    assert "attachment" in download.headers["Content-Disposition"]


def test_downloads_are_refused_to_other_dealers_hospitals_and_tenants(signed_in, as_tenant, run):
    job_id = _request(as_tenant, by="dealer1@acme.test")
    run("acme", job_id)
    doc = f"/documents/{_job(as_tenant, job_id)['document_id']}"
    assert signed_in("acme", "dealer1").get(doc).status_code == 200
    assert signed_in("acme", "dealer1.sales").get(doc).status_code == 200  # same dealer
    assert signed_in("acme", "dealer2").get(doc).status_code == 404
    assert signed_in("acme", "hospital1").get(doc).status_code == 404
    assert signed_in("acme", "finance").get(doc).status_code == 404  # not a role of this kind
    assert signed_in("acme", "admin").get(doc).status_code == 200
    assert signed_in("globex", "admin").get(doc).status_code == 404
    assert signed_in("globex", "dealer1").get(f"/jobs/{job_id}").status_code == 404


def test_tampered_document_is_not_served(signed_in, as_tenant, app, run):
    job_id = _request(as_tenant, by="admin@acme.test")
    run("acme", job_id)
    with as_tenant("acme") as session:
        key = session.get(Document, _job(as_tenant, job_id)["document_id"]).storage_key
    with app.app_context():
        from app.core.storage import get_storage

        (get_storage().root / key).write_bytes(b"forged")
    assert signed_in("acme", "admin").get(f"/documents/{_job(as_tenant, job_id)['document_id']}").status_code == 410


def test_documents_are_immutable_for_the_app_role(as_tenant, run):
    job_id = _request(as_tenant)
    run("acme", job_id)
    with as_tenant("acme") as session:
        with pytest.raises(Exception, match="permission denied"):
            session.execute(text("UPDATE documents SET sha256 = 'x'"))


def test_audit_export_csv_from_the_page(signed_in, run_worker):
    admin = signed_in("acme", "admin")
    page = admin.get("/manufacturer/audit?entity_type=users").get_data(as_text=True)
    rid = re.search(r'name="request_id" value="([0-9a-f]{32})"', page).group(1)
    form = {"format": "csv", "request_id": rid, "entity_type": "users", "entity_id": "", "actor": "", "action": "",
            "date_from": "", "date_to": ""}
    first = admin.post("/manufacturer/audit/export", form, token_from="/manufacturer/audit")
    again = admin.post("/manufacturer/audit/export", form, token_from="/manufacturer/audit")  # double click
    assert first.status_code == 303 and first.headers["Location"] == again.headers["Location"]
    run_worker()
    job_page = admin.get(first.headers["Location"]).get_data(as_text=True)
    csv_bytes = admin.get(re.search(r'href="(/documents/\d+)"', job_page).group(1)).data
    assert csv_bytes.startswith("\ufeff".encode())
    text_ = csv_bytes.decode("utf-8-sig")
    assert text_.splitlines()[0].startswith("seq,occurred_at_utc,actor_type")
    assert "admin@acme.test" in text_ and ",users," in text_ and ",dealers," not in text_


def _export(browser, run_worker, fmt: str, **filters) -> bytes:
    """Ask for an export on the audit page, let a worker run it, download the result."""
    page = browser.get("/manufacturer/audit").get_data(as_text=True)
    rid = re.search(r'name="request_id" value="([0-9a-f]{32})"', page).group(1)
    response = browser.post("/manufacturer/audit/export", {"format": fmt, "request_id": rid, **filters},
                            token_from="/manufacturer/audit")
    assert response.status_code == 303
    run_worker()
    job_page = browser.get(response.headers["Location"]).get_data(as_text=True)
    return browser.get(re.search(r'href="(/documents/\d+)"', job_page).group(1)).data


def test_audit_export_pdf_renders_chinese(signed_in, run_worker):
    import pypdf

    pdf = _export(signed_in("acme", "qa"), run_worker, "pdf", entity_type="dealers")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    extracted = "".join(p.extract_text() for p in reader.pages)
    assert "审计留痕" in extracted and "艾科医疗科技（苏州）有限公司" in extracted
    assert "北京康泰医疗器械有限公司" in extracted
    fonts = [f.get_object()["/BaseFont"] for f in reader.pages[0]["/Resources"]["/Font"].values()]
    assert any("CJK" in name for name in fonts), fonts  # a real CJK font is embedded


def test_export_with_bad_input_explains_itself(signed_in):
    admin = signed_in("acme", "admin")
    bad = admin.post("/manufacturer/audit/export", {"format": "doc", "request_id": "x", "date_from": "2026-13-01"},
                     token_from="/manufacturer/audit")
    body = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "请按 YYYY-MM-DD 格式输入日期。" in body and "请选择 CSV、Excel 或 PDF。" in body
    assert signed_in("acme", "finance").get("/manufacturer/audit").status_code == 403
    assert signed_in("acme", "dealer1").get("/manufacturer/audit").status_code == 403


def test_audit_page_filters(signed_in, as_tenant):
    from sqlalchemy import select

    from app.channel.models import Dealer

    with as_tenant("acme") as session:
        dealer_id = session.scalar(select(Dealer.id).where(Dealer.code == "D-SH-001"))
    admin = signed_in("acme", "admin")
    by_actor = admin.get("/manufacturer/audit?actor=admin@acme&action=sign_in").get_data(as_text=True)
    assert "admin@acme.test" in by_actor and "demo seed" not in by_actor
    future = admin.get("/manufacturer/audit?date_from=2099-01-01").get_data(as_text=True)
    assert "没有符合条件的事件。" in future
    reversed_ = admin.get("/manufacturer/audit?date_from=2026-02-01&date_to=2026-01-01")
    assert reversed_.status_code == 400 and "结束日期早于开始日期。" in reversed_.get_data(as_text=True)
    today = admin.get(f"/manufacturer/audit?entity_type=dealers&entity_id={dealer_id}").get_data(as_text=True)
    assert "华东医疗器械有限公司" in today


def test_failed_jobs_view_and_retry(signed_in, as_tenant, run):
    job_id = _request(as_tenant, kind="test.refused", by="admin@acme.test")
    run("acme", job_id)
    admin = signed_in("acme", "admin")
    listing = admin.get("/manufacturer/jobs").get_data(as_text=True)
    assert f'/jobs/{job_id}"' in listing and "no such statement" in listing
    assert signed_in("acme", "finance").get("/manufacturer/jobs").status_code == 403
    assert signed_in("acme", "qa").post(f"/jobs/{job_id}/retry", token_from="/manufacturer/").status_code in (403, 404)
    retried = admin.post(f"/jobs/{job_id}/retry", token_from="/manufacturer/jobs")
    assert retried.status_code == 303
    assert _job(as_tenant, job_id)["status"] == "requested"


def test_pdf_fetcher_serves_static_files_only(app):
    from weasyprint import HTML

    from app.core.pdf import static_only_fetcher

    static = ROOT / "static"
    fetcher = static_only_fetcher(static)
    html = (
        '<link rel="stylesheet" href="css/app.css">'
        '<img src="file:///etc/passwd"><img src="../../../../etc/hostname">'
        '<link rel="stylesheet" href="http://127.0.0.1:9/evil.css"><img src="https://169.254.169.254/latest">'
        '<p>正文</p>'
    )
    HTML(string=html, base_url=str(static) + "/", url_fetcher=fetcher).write_pdf()
    refused = " ".join(fetcher.refused)
    assert "/etc/passwd" in refused and "/etc/hostname" in refused
    assert "127.0.0.1:9" in refused and "169.254.169.254" in refused
    assert "app.css" not in refused


def test_audit_export_xlsx(signed_in, run_worker, as_tenant):
    from openpyxl import load_workbook
    from sqlalchemy import func, select

    from app.compliance.models import AuditEvent

    data = _export(signed_in("acme", "admin"), run_worker, "xlsx", entity_type="hospitals")
    rows = list(load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True))
    assert rows[0][:4] == ("seq", "occurred_at_utc", "actor", "action")
    with as_tenant("acme") as session:
        events = session.scalar(select(func.count()).where(AuditEvent.entity_type == "hospitals"))
    assert len(rows) == events + 1 > 150 and all(r[4] == "hospitals" for r in rows[1:])
    assert any("北京协和医院" in (r[7] or "") for r in rows[1:])


def test_probe_and_sweep_commands(app, as_tenant, run_worker):
    runner = app.test_cli_runner()
    requested = runner.invoke(args=["jobs", "probe", "acme", "--seconds", "0.2"])
    assert requested.exit_code == 0, requested.output
    job_id = int(re.search(r"probe job (\d+)", requested.output).group(1))
    run_worker()
    assert _job(as_tenant, job_id)["status"] == "done"
    swept = runner.invoke(args=["jobs", "sweep"])
    assert swept.exit_code == 0 and "job(s) acted on" in swept.output


def test_export_form_follows_the_filter_applied_through_htmx(signed_in):
    fragment = signed_in("acme", "admin").get("/manufacturer/audit?entity_type=users", headers={"HX-Request": "true"})
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and 'class="export"' in html
    assert '<input type="hidden" name="entity_type" value="users">' in html  # exports what is now shown
