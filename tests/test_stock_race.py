"""Two orders allocating the last units of a lot at the same moment: real parallel
transactions, each in its own thread and session pinned to acme. The balance rows are
locked FOR UPDATE, so exactly one gets the units and the other comes away short."""
import threading
import uuid
from datetime import timedelta

from sqlalchemy import select

from app.catalog.models import Sku
from app.channel.models import Region
from app.core.i18n import shanghai_today
from app.inventory import operations as ops
from app.inventory import queries as q
from app.inventory.models import StockBalance


def _allocate_in_parallel(app, sku_id, warehouse_id, wanted, hold_seconds=0.3):
    """Both threads start take_fefo together; whoever locks first holds its
    transaction open a moment before committing, so the other really waits."""
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    barrier, results, errors = threading.Barrier(2), {}, []

    def order(name):
        try:
            with app.app_context():
                tenant = by_slug(db.session, "acme")
                db.session.rollback()
                with tenant_session(db.session, tenant) as session:
                    set_context(session, Actor.system(f"race {name}"))
                    session.execute(select(1))  # the transaction (and its tenant pin) is open
                    barrier.wait(timeout=10)
                    taken = ops.take_fefo(session, sku_id, [warehouse_id], wanted, "allocated", "allocation",
                                          ref=("order_lines", 1), reason=f"order {name}")
                    results[name] = taken
                    threading.Event().wait(hold_seconds)
                db.session.remove()
        except Exception as err:  # surfaced by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=order, args=(n,)) for n in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return results


def _stock(as_tenant, units):
    with as_tenant("acme") as s:
        sku = s.scalar(select(Sku).where(Sku.code == "CV-DES-3018"))
        w = ops.save_warehouse(s, {"code": f"RACE-{uuid.uuid4().hex[:8]}", "name": "并发测试仓", "kind": "regional",
                                   "region_id": s.scalar(select(Region.id).where(Region.code == "SH"))})
        lot = ops.lot_for(s, sku, f"R{uuid.uuid4().hex[:8]}", None, shanghai_today() - timedelta(days=10),
                          shanghai_today() + timedelta(days=500))
        ops.receive(s, w, lot, units, "test")
        ops.change_state(s, "qc_release", w.id, lot.id, units, None)
        return sku.id, w.id, lot.id


def test_two_orders_racing_for_the_last_units_never_both_get_them(app, as_tenant):
    sku_id, warehouse_id, lot_id = _stock(as_tenant, 5)
    results = _allocate_in_parallel(app, sku_id, warehouse_id, 5)
    got = sorted(sum(p.quantity for p in r.picks) for r in results.values())
    assert got == [0, 5]
    assert sorted(r.short for r in results.values()) == [0, 5]
    with as_tenant("acme") as s:
        assert q.lot_balances(s, warehouse_id, lot_id)["available"] == 0
        assert q.lot_balances(s, warehouse_id, lot_id)["allocated"] == 5
        assert s.scalar(select(StockBalance).where(StockBalance.quantity < 0).limit(1)) is None
        assert q.reconcile(s) == []


def test_racing_orders_share_what_there_is_without_overselling(app, as_tenant):
    sku_id, warehouse_id, lot_id = _stock(as_tenant, 7)
    results = _allocate_in_parallel(app, sku_id, warehouse_id, 4)
    got = sorted(sum(p.quantity for p in r.picks) for r in results.values())
    assert got == [3, 4] and sorted(r.short for r in results.values()) == [0, 1]
    with as_tenant("acme") as s:
        assert q.lot_balances(s, warehouse_id, lot_id) | {} == {**q.lot_balances(s, warehouse_id, lot_id),
                                                               "available": 0, "allocated": 7}
        assert q.reconcile(s) == []
