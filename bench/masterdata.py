"""Master data at scale: list pages, price resolution and an import, on one tenant with
tens of thousands of rows.

    python -m bench.masterdata [--skus 20000] [--hospitals 30000] [--dealers 5000]
                               [--authorizations 20000] [--import-rows 2000]

Times are server-side (Flask's test client in this process: routing, queries,
templates; no network), median and p95 of repeated requests, for the first page and a
deep page (a cursor 90 % of the way down) of each list. A deep page costing what the
first page costs is the point of keyset pagination. Then resolve_price and the
sellability gate per call, and the throughput of an all-or-nothing hospitals import run
by the job code in this process.
"""
from __future__ import annotations

import argparse
import io
import random
import re
import statistics
import time
import uuid
from datetime import date

from sqlalchemy import func, select, text

from bench.common import bench_app, pct
from bench.generate import generate

SLUG = "benchmd"
REPEAT = 15


def _fill(app, skus: int, authorizations: int) -> str:
    """Registrations, authorizations, a national price list with every SKU, bands and
    tender awards, set-based (one audit event for the bulk load), once."""
    from app.compliance.operations import Actor, record_event, set_context
    from app.core.db import db
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    with app.app_context():
        tenant = by_slug(db.session, SLUG)
        db.session.rollback()
        with tenant_session(db.session, tenant) as session:
            set_context(session, Actor.system("bench generator"))
            if session.scalar(text("SELECT count(*) FROM authorizations")):
                return "master data already there"
            t0 = time.perf_counter()
            session.execute(text(
                "INSERT INTO registrations (number, product_name, device_class, holder, valid_from, valid_until) "
                "SELECT '国械注准2024' || lpad(i::text, 7, '0'), '产品' || i, (ARRAY['II','III'])[1 + i % 2], "
                "'基准测试医疗器械有限公司', DATE '2024-01-01', DATE '2024-01-01' + (365 * 5 + i % 700) "
                "FROM generate_series(1, :n) AS i"), {"n": max(1, skus // 50)})
            session.execute(text(
                "UPDATE skus SET registration_id = r.id FROM (SELECT id, row_number() OVER (ORDER BY id) AS k "
                "FROM registrations) r WHERE r.k = 1 + skus.id % (SELECT count(*) FROM registrations)"))
            session.execute(text(
                "INSERT INTO authorizations (code, dealer_id, product_line_id, region_id, valid_from, valid_until, exclusive) "
                "SELECT 'AUTH-B-' || lpad(i::text, 6, '0'), d.id, pl.id, d.region_id, "
                "DATE '2020-01-01' + (i / 5000) * 366, DATE '2020-01-01' + (i / 5000) * 366 + 365, false "
                "FROM generate_series(1, :n) AS i "
                "JOIN LATERAL (SELECT id, region_id FROM dealers ORDER BY id OFFSET (i % (SELECT count(*) FROM dealers)) LIMIT 1) d ON true "
                "JOIN LATERAL (SELECT id FROM product_lines ORDER BY id OFFSET (i % 2) LIMIT 1) pl ON true"),
                {"n": authorizations})
            session.execute(text(
                "INSERT INTO price_lists (code, name, channel, valid_from) "
                "VALUES ('PL-BENCH-NAT', '全国经销价', 'distribution', DATE '2020-01-01')"))
            session.execute(text(
                "INSERT INTO price_list_items (price_list_id, sku_id, price) "
                "SELECT (SELECT id FROM price_lists WHERE code = 'PL-BENCH-NAT'), id, 100 + (id % 900) FROM skus"))
            session.execute(text(
                "INSERT INTO price_bands (sku_id, floor, ceiling, valid_from) SELECT id, 80, 2000, DATE '2020-01-01' FROM skus"))
            session.execute(text(
                "INSERT INTO tender_prices (award_no, sku_id, hospital_id, price, valid_from, valid_until) "
                "SELECT 'ZB-' || i, 1 + i % :skus, h.id, 95, DATE '2020-01-01', DATE '2030-12-31' "
                "FROM generate_series(1, 1000) AS i JOIN LATERAL (SELECT id FROM hospitals ORDER BY id OFFSET i LIMIT 1) h ON true"),
                {"skus": skus})
            session.execute(text(
                "INSERT INTO qualifications (dealer_id, kind, number, device_classes, status) "
                "SELECT id, k, k || '-' || id, ARRAY['II','III'], 'approved' FROM dealers, "
                "unnest(ARRAY['business_license','operating_permit']) AS k"))
            record_event(session, "bulk_generate", "tenants", SLUG, after={"authorizations": authorizations},
                         reason_text="bench master data")
            took = time.perf_counter() - t0
        with db.engine.begin() as conn:
            for table in ("registrations", "skus", "authorizations", "price_lists", "price_list_items", "price_bands",
                          "tender_prices", "qualifications"):
                conn.execute(text(f'ANALYZE "{tenant.schema}".{table}'))
        return f"master data generated in {took:.1f} s"


class _Client:
    def __init__(self, app):
        self.client = app.test_client()
        self.base = f"http://{SLUG}.{app.config['BASE_DOMAIN']}"
        page = self.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
        signed = self.client.post("/login", base_url=self.base, data={
            "email": "admin@bench.test", "password": "MedChannel-demo-1", "csrf_token": token})
        assert signed.status_code == 303, signed.status_code

    def get(self, path, **kw):
        return self.client.get(path, base_url=self.base, **kw)


def _timed(client: _Client, path: str) -> tuple[float, float]:
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times), pct(times, 95)


def _deep_cursor(app, sql: str) -> str:
    """The cursor of the row 90 % of the way down a list (its key, encoded)."""
    from app.core.db import db
    from app.core.pagination import encode_cursor
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    with app.app_context():
        tenant = by_slug(db.session, SLUG)
        db.session.rollback()
        with tenant_session(db.session, tenant) as session:
            total = session.scalar(text(f"SELECT count(*) FROM ({sql}) q"))
            row = session.execute(text(f"{sql} OFFSET {int(total * 0.9)} LIMIT 1")).one()
    return encode_cursor(list(row))


def _pages(app) -> list[str]:
    client = _Client(app)
    with app.app_context():
        from app.core.db import db
        from tenants.registry import by_slug
        from tenants.session import tenant_session

        tenant = by_slug(db.session, SLUG)
        db.session.rollback()
        with tenant_session(db.session, tenant) as session:
            price_list = session.scalar(text("SELECT id FROM price_lists WHERE code = 'PL-BENCH-NAT'"))
            counts = {t: session.scalar(text(f"SELECT count(*) FROM {t}")) for t in (
                "skus", "dealers", "hospitals", "authorizations", "price_list_items")}
    lists = [
        ("SKUs", "/manufacturer/skus", "SELECT code, id FROM skus ORDER BY code, id", counts["skus"]),
        ("dealers", "/manufacturer/dealers", "SELECT name, id FROM dealers ORDER BY name, id", counts["dealers"]),
        ("hospitals", "/manufacturer/hospitals", "SELECT name, id FROM hospitals ORDER BY name, id", counts["hospitals"]),
        ("authorizations", "/manufacturer/authorizations", "SELECT id FROM authorizations ORDER BY id DESC",
         counts["authorizations"]),
        ("price list items", f"/manufacturer/price-lists/{price_list}",
         f"SELECT s.code, i.id FROM price_list_items i JOIN skus s ON s.id = i.sku_id WHERE i.price_list_id = {price_list} "
         "ORDER BY s.code, i.id", counts["price_list_items"]),
    ]
    lines = [f"{'list':<18} {'rows':>7}  {'first page ms (median / p95)':>30}  {'deep page ms (median / p95)':>29}"]
    for label, path, key_sql, rows in lists:
        first = _timed(client, path)
        deep = _timed(client, f"{path}?after={_deep_cursor(app, key_sql)}")
        lines.append(f"{label:<18} {rows:>7}  {first[0]:>18.1f} / {first[1]:<9.1f}  {deep[0]:>17.1f} / {deep[1]:<9.1f}")
    search = _timed(client, "/manufacturer/skus?q=SKU-1234")
    lines.append(f"SKU search 'SKU-1234': {search[0]:.1f} ms median, {search[1]:.1f} ms p95")
    return lines


def _resolution(app, calls: int = 300) -> list[str]:
    from app.channel.authorizations import sellability
    from app.core.db import db
    from app.pricing.queries import resolve_price
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    rng = random.Random(7)
    lines = []
    with app.app_context():
        tenant = by_slug(db.session, SLUG)
        db.session.rollback()
        with tenant_session(db.session, tenant) as session:
            dealers = list(session.scalars(text("SELECT id FROM dealers")))
            hospitals = list(session.scalars(text("SELECT hospital_id FROM tender_prices"))) + list(
                session.scalars(text("SELECT id FROM hospitals LIMIT 1000")))
            skus = list(session.scalars(text("SELECT id FROM skus")))
            day = date(2026, 6, 1)
            for name, fn in (("resolve_price", resolve_price), ("sellability", sellability)):
                times = []
                for _ in range(calls):
                    args = (rng.choice(dealers), rng.choice(hospitals), rng.choice(skus), day)
                    t0 = time.perf_counter()
                    fn(session, *args)
                    times.append((time.perf_counter() - t0) * 1000)
                lines.append(f"{name}: {statistics.median(times):.2f} ms median, {pct(times, 95):.2f} ms p95 "
                             f"({calls} calls, random dealer × hospital × SKU)")
            session.rollback()
    return lines


def _import(app, rows: int) -> list[str]:
    """A hospitals file of ``rows`` new rows, imported for real (then left in place)."""
    from openpyxl import Workbook

    from app.compliance.models import ImportRun, Job
    from app.core.db import db
    from app.core.jobs import run_job
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    book = Workbook()
    sheet = book.active
    sheet.append(["医院编码", "医院名称", "医院等级", "区域编码", "城市"])
    tag = uuid.uuid4().hex[:6].upper()
    for i in range(rows):
        sheet.append([f"HB-{tag}-{i:05d}", f"基准导入医院{tag}{i}", "三级甲等", "EAST", "上海"])
    buf = io.BytesIO()
    book.save(buf)
    client = _Client(app)
    page = client.get("/manufacturer/imports").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    response = client.client.post("/manufacturer/imports", base_url=client.base, data={
        "csrf_token": token, "entity": "hospitals", "request_id": uuid.uuid4().hex,
        "file": (io.BytesIO(buf.getvalue()), f"hospitals-{rows}.xlsx")}, content_type="multipart/form-data")
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
    run_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    with app.app_context():
        tenant = by_slug(db.session, SLUG)
        db.session.rollback()
        with tenant_session(db.session, tenant) as session:
            job_id = session.scalar(select(ImportRun.job_id).where(ImportRun.id == run_id))
        db.session.remove()
        t0 = time.perf_counter()
        run_job(SLUG, job_id)
        took = time.perf_counter() - t0
        with tenant_session(db.session, tenant) as session:
            run = session.get(ImportRun, run_id)
            status, taken = run.status, run.taken_rows
            job_status = session.scalar(select(Job.status).where(Job.id == job_id))
            hospitals = session.scalar(select(func.count()).select_from(text("hospitals")))
    return [f"import of {rows} hospitals (.xlsx, all-or-nothing, one job): {took:.1f} s, "
            f"{took / rows * 1000:.1f} ms/row, {rows / took:.0f} rows/s — {status}, {taken} rows taken, job {job_status}, "
            f"{hospitals} hospitals now"]


def run(skus=20000, hospitals=30000, dealers=5000, authorizations=20000, import_rows=2000) -> list[str]:
    app = bench_app()
    lines = [generate(app, SLUG, dealers, hospitals, skus), _fill(app, skus, authorizations)]
    lines += _pages(app)
    lines += _resolution(app)
    if import_rows:
        lines += _import(app, import_rows)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skus", type=int, default=20000)
    parser.add_argument("--hospitals", type=int, default=30000)
    parser.add_argument("--dealers", type=int, default=5000)
    parser.add_argument("--authorizations", type=int, default=20000)
    parser.add_argument("--import-rows", type=int, default=2000)
    args = parser.parse_args()
    for line in run(args.skus, args.hospitals, args.dealers, args.authorizations, args.import_rows):
        print(line, flush=True)


if __name__ == "__main__":
    main()
