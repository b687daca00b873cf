"""Generate a large tenant: ``python -m bench.generate [--slug bench] [--dealers 500]
[--hospitals 3000] [--skus 2000]``. Set-based inserts (generate_series), one audit event
for the bulk load. Idempotent: an existing tenant of that slug is left as it is."""
from __future__ import annotations

import argparse
import time

from sqlalchemy import func, select, text

REGIONS = [("JJJ", "京津冀", "Beijing-Tianjin-Hebei"), ("EAST", "华东", "East China"), ("SOUTH", "华南", "South China"),
           ("CENTRAL", "华中", "Central China"), ("SW", "西南", "Southwest China"), ("NE", "东北", "Northeast China"),
           ("NW", "西北", "Northwest China")]


def generate(app, slug: str = "bench", dealers: int = 500, hospitals: int = 3000, skus: int = 2000) -> str:
    from app.channel import operations as channel_ops
    from app.compliance.operations import Actor, record_event, set_context
    from app.core.db import db
    from app.identity.models import User
    from app.identity.operations import hash_password
    from tenants.migrations import migrate_all, upgrade_public
    from tenants.provisioning import create_tenant
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    with app.app_context():
        upgrade_public(db.engine)
        migrate_all(db.engine, jobs=1)  # a bench database made by an older checkout catches up
        tenant = by_slug(db.session, slug)
        db.session.rollback()
        if tenant is None:
            tenant = create_tenant(db.engine, slug, "基准测试医疗器械有限公司")
        with tenant_session(db.session, tenant) as session:
            set_context(session, Actor.system("bench generator"))
            if session.scalar(select(func.count()).select_from(User)):
                return f"{slug}: already generated"
            t0 = time.perf_counter()
            cn = channel_ops.add_region(session, "CN", "中国", "China")
            areas = [channel_ops.add_region(session, c, n, e, cn) for c, n, e in REGIONS]
            ids = "ARRAY[" + ",".join(str(a.id) for a in areas) + "]::bigint[]"
            session.execute(text(
                f"INSERT INTO dealers (code, name, tier, region_id, contact_name, contact_phone) "
                f"SELECT 'D-' || lpad(i::text, 5, '0'), '经销商' || lpad(i::text, 5, '0') || '医疗器械有限公司', "
                f"(ARRAY['agent','tier1','tier2'])[1 + i % 3], ({ids})[1 + i % {len(areas)}], '联系人' || i, '021-' || (5550000 + i) "
                f"FROM generate_series(1, :n) AS i"), {"n": dealers})
            session.execute(text(
                f"INSERT INTO hospitals (code, name, grade, region_id, city) "
                f"SELECT 'H-' || lpad(i::text, 5, '0'), '第' || i || '人民医院', (ARRAY['三级甲等','三级乙等','二级甲等'])[1 + i % 3], "
                f"({ids})[1 + i % {len(areas)}], '城市' || (i % 300) FROM generate_series(1, :n) AS i"), {"n": hospitals})
            session.execute(text("INSERT INTO product_lines (code, name, name_en) VALUES ('CV', '心血管介入', 'Cardiovascular'), "
                                 "('IVD', '体外诊断', 'IVD')"))
            session.execute(text(
                "INSERT INTO skus (code, name, specification, unit, product_line_id) "
                "SELECT 'SKU-' || lpad(i::text, 5, '0'), '产品' || i, '规格' || i, '套', "
                "(SELECT id FROM product_lines ORDER BY id LIMIT 1 OFFSET (i % 2)) FROM generate_series(1, :n) AS i"),
                {"n": skus})
            session.add(User(email="admin@bench.test", name="基准管理员", portal="manufacturer", roles=["admin"],
                             password_hash=hash_password("MedChannel-demo-1")))
            record_event(session, "bulk_generate", "tenants", slug,
                         after={"dealers": dealers, "hospitals": hospitals, "skus": skus}, reason_text="bench data")
            message = f"{slug}: generated {dealers} dealers, {hospitals} hospitals, {skus} SKUs in {time.perf_counter() - t0:.2f} s"
        with db.engine.begin() as conn:  # statistics are the owner's job, not the tenant role's
            for table in ("dealers", "hospitals", "skus", "regions", "users"):
                conn.execute(text(f'ANALYZE "{tenant.schema}".{table}'))
        return message


def main() -> None:
    from bench.common import bench_app

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slug", default="bench")
    parser.add_argument("--dealers", type=int, default=500)
    parser.add_argument("--hospitals", type=int, default=3000)
    parser.add_argument("--skus", type=int, default=2000)
    args = parser.parse_args()
    print(generate(bench_app(), args.slug, args.dealers, args.hospitals, args.skus))


if __name__ == "__main__":
    main()
