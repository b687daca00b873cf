"""Expiry watch (效期预警): registrations, dealers' qualifications and authorizations in
30/60/90-day buckets; a dealer sees only its own; the daily Excel report runs once a day."""
import io
import uuid
from datetime import date, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from app.catalog import operations as catalog_ops
from app.catalog.models import ProductLine
from app.channel.models import Authorization, Dealer, Qualification
from app.compliance import expiry
from app.compliance.models import Document, Job
from app.core.i18n import SHANGHAI, shanghai_today


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)), st.integers(min_value=-500, max_value=500))
def test_buckets_follow_days_left(day, offset):
    bucket = expiry.expiry_bucket(day + timedelta(days=offset), day)
    expected = ("expired" if offset < 0 else "30" if offset <= 30 else "60" if offset <= 60
                else "90" if offset <= 90 else None)
    assert bucket == expected


def test_the_day_is_the_shanghai_calendar_day():
    assert shanghai_today(datetime(2026, 3, 1, 15, 59, tzinfo=timezone.utc)) == date(2026, 3, 1)
    assert shanghai_today(datetime(2026, 3, 1, 16, 0, tzinfo=timezone.utc)) == date(2026, 3, 2)


def _world(as_tenant):
    """Items for 华东医疗器械有限公司 (dealer1) and 广州百仕达 (dealer2), near and far."""
    today = shanghai_today()
    tag = uuid.uuid4().hex[:6].upper()
    with as_tenant("acme") as session:
        east = session.scalar(select(Dealer).where(Dealer.code == "D-SH-001"))
        south = session.scalar(select(Dealer).where(Dealer.code == "D-GD-001"))
        cv = session.scalar(select(ProductLine).where(ProductLine.code == "CV"))
        reg = catalog_ops.save_registration(session, {
            "number": f"国械注准R{tag}", "product_name": "冠脉导引导丝", "device_class": "III", "holder": "艾科",
            "valid_from": today - timedelta(days=1800), "valid_until": today + timedelta(days=20)})
        rows = {
            "reg": reg,
            "east_permit": Qualification(dealer_id=east.id, kind="operating_permit", number=f"沪食药监械经营许{tag}1",
                                         valid_until=today + timedelta(days=45), status="approved", device_classes=["III"]),
            "east_pending": Qualification(dealer_id=east.id, kind="operating_permit", number=f"沪食药监械经营许{tag}2",
                                          valid_until=today + timedelta(days=10), status="pending"),
            "east_far": Qualification(dealer_id=east.id, kind="business_license", number=f"91310000{tag}3",
                                      valid_until=today + timedelta(days=400), status="approved"),
            "east_auth": Authorization(code=f"AU-E-{tag}", dealer_id=east.id, product_line_id=cv.id, region_id=east.region_id,
                                       valid_from=today - timedelta(days=300), valid_until=today + timedelta(days=80)),
            "south_permit": Qualification(dealer_id=south.id, kind="operating_permit", number=f"粤穗食药监械经营许{tag}4",
                                          valid_until=today - timedelta(days=3), status="approved"),
            "south_auth": Authorization(code=f"AU-S-{tag}", dealer_id=south.id, product_line_id=cv.id,
                                        region_id=south.region_id, valid_from=today - timedelta(days=300),
                                        valid_until=today + timedelta(days=5)),
            "south_revoked": Authorization(code=f"AU-R-{tag}", dealer_id=south.id, product_line_id=cv.id,
                                           region_id=south.region_id, valid_from=today - timedelta(days=300),
                                           valid_until=today + timedelta(days=5), status="revoked"),
        }
        for obj in rows.values():
            session.add(obj)
        session.flush()
        ids = {k: v.id for k, v in rows.items()}
        names = {"east_permit": rows["east_permit"].number, "east_pending": rows["east_pending"].number,
                 "east_far": rows["east_far"].number, "south_permit": rows["south_permit"].number,
                 "east_auth": rows["east_auth"].code, "south_auth": rows["south_auth"].code,
                 "south_revoked": rows["south_revoked"].code, "reg": reg.number}
        return today, ids, names, east.id, south.id


def _find(items, entity_type, entity_id):
    return next((i for i in items if i.entity_type == entity_type and i.entity_id == entity_id), None)


def test_registrations_qualifications_and_authorizations_fall_into_buckets(as_tenant):
    today, ids, names, east_id, south_id = _world(as_tenant)
    with as_tenant("acme") as session:
        items = expiry.expiring(session, today)
    assert _find(items, "registrations", ids["reg"]).bucket == "30"
    permit = _find(items, "qualifications", ids["east_permit"])
    assert (permit.bucket, permit.days_left, permit.dealer_name) == ("60", 45, "华东医疗器械有限公司")
    assert _find(items, "authorizations", ids["east_auth"]).bucket == "90"
    assert _find(items, "qualifications", ids["south_permit"]).bucket == "expired"
    assert _find(items, "authorizations", ids["south_auth"]).bucket == "30"
    assert _find(items, "qualifications", ids["east_pending"]) is None  # not approved yet: governs nothing
    assert _find(items, "qualifications", ids["east_far"]) is None
    assert _find(items, "authorizations", ids["south_revoked"]) is None
    assert [i.valid_until for i in items] == sorted(i.valid_until for i in items)


def test_dealer_sees_only_its_own_items_and_no_registrations(as_tenant, signed_in):
    today, ids, names, east_id, south_id = _world(as_tenant)
    with as_tenant("acme") as session:
        east_items = expiry.expiring(session, today, dealer_id=east_id)
    assert {i.dealer_id for i in east_items} == {east_id}
    assert not any(i.kind == "registration" for i in east_items)
    dashboard = signed_in("acme", "dealer1").get("/dealer/").get_data(as_text=True)
    assert names["east_permit"] in dashboard and names["east_auth"] in dashboard
    for other in ("south_permit", "south_auth", "reg", "east_pending"):
        assert names[other] not in dashboard, other
    south = signed_in("acme", "dealer2").get("/dealer/").get_data(as_text=True)
    assert names["south_permit"] in south and names["east_permit"] not in south


def test_manufacturer_page_filters_by_kind_and_bucket_and_regional_scope(as_tenant, signed_in):
    today, ids, names, east_id, south_id = _world(as_tenant)
    qa = signed_in("acme", "qa")
    everything = qa.get("/manufacturer/expiry").get_data(as_text=True)
    for key in ("reg", "east_permit", "east_auth", "south_permit", "south_auth"):
        assert names[key] in everything, key
    quals = qa.get("/manufacturer/expiry?kind=qualification", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in quals and names["east_permit"] in quals and names["reg"] not in quals
    expired = qa.get("/manufacturer/expiry?bucket=expired").get_data(as_text=True)
    assert names["south_permit"] in expired and names["east_permit"] not in expired
    assert f'/manufacturer/registrations/{ids["reg"]}' in everything
    east_manager = signed_in("acme", "sales.east").get("/manufacturer/expiry").get_data(as_text=True)
    assert names["east_permit"] in east_manager and names["south_permit"] not in east_manager
    assert names["reg"] in east_manager  # registrations are manufacturer-wide


def test_expiry_page_is_closed_to_dealers_hospitals_and_other_tenants(as_tenant, signed_in):
    today, ids, names, east_id, south_id = _world(as_tenant)
    for local in ("dealer1", "hospital1"):
        b = signed_in("acme", local)
        assert b.get("/manufacturer/expiry").status_code == 403
        assert b.post("/manufacturer/expiry/report", {}, token_from="/account").status_code == 403
    globex = signed_in("globex", "admin").get("/manufacturer/expiry").get_data(as_text=True)
    assert names["east_permit"] not in globex and names["reg"] not in globex
    assert signed_in("acme", "finance").post("/manufacturer/expiry/report", {}, token_from="/manufacturer/expiry").status_code == 403


def test_run_now_button_makes_an_excel_report(as_tenant, signed_in, run_worker):
    today, ids, names, east_id, south_id = _world(as_tenant)
    qa = signed_in("acme", "qa")
    response = qa.post("/manufacturer/expiry/report", {"request_id": uuid.uuid4().hex}, token_from="/manufacturer/expiry")
    assert response.status_code == 303 and "/jobs/" in response.headers["Location"]
    run_worker()
    job_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    with as_tenant("acme") as session:
        job = session.get(Job, job_id)
        assert job.status == "done", job.error
        document = session.get(Document, job.document_id)
        assert document.kind == "xlsx"
        document_id = document.id
    data = qa.get(f"/documents/{document_id}").data
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data)).active
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    text = repr(values)
    assert names["east_permit"] in text and names["reg"] in text and names["south_permit"] in text
    assert len(values[0]) == 6 and sheet.title.endswith(shanghai_today().isoformat())  # headers; the day in the title


def test_daily_job_is_requested_once_per_day_per_tenant_and_is_idempotent(app, as_tenant, run_worker):
    from app.core import jobs
    from app.core.db import db
    from app.core.redis import get_redis

    assert expiry.request_daily_expiry_watch in jobs.PERIODIC
    day = date(2031, 5, 17)
    now = datetime(2031, 5, 17, 0, 5, tzinfo=SHANGHAI)
    with app.app_context():
        first = expiry.request_daily_expiry_watch(db.engine, now)
        assert any(line.startswith("acme:") for line in first) and any(line.startswith("globex:") for line in first)
        assert expiry.request_daily_expiry_watch(db.engine, now) == []  # the day is done: one Redis read
        get_redis().delete(expiry.DONE_KEY.format(day=day.isoformat()))
        again = expiry.request_daily_expiry_watch(db.engine, now)  # Redis lost: the request id still holds
        assert sorted(again) == sorted(first)
    with as_tenant("acme") as session:
        jobs_today = session.scalars(select(Job).where(Job.request_id == f"expiry-watch-{day.isoformat()}")).all()
        assert len(jobs_today) == 1 and jobs_today[0].kind == "compliance.expiry_watch"
        job_id = jobs_today[0].id
    run_worker()
    with as_tenant("acme") as session:
        job = session.get(Job, job_id)
        assert job.status == "done" and session.get(Document, job.document_id).filename.endswith("2031-05-17.xlsx")


def test_bad_report_parameters_are_refused_not_retried(as_tenant, run_worker):
    from app.core.jobs import request_job

    with as_tenant("acme") as session:
        job_id = request_job(session, "compliance.expiry_watch", {"day": "someday"}, uuid.uuid4().hex).id
    run_worker()
    with as_tenant("acme") as session:
        job = session.get(Job, job_id)
        assert job.status == "failed" and job.attempts == 1
