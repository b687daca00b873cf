"""Transfers between warehouses (调拨): request → approval → ship (FEFO, in transit) →
receive (into inspection, shortfall written off) → inspect (completed), with the ledger
effects at both warehouses after every step; refusals; suggestions; expected arrivals;
who may see and do what."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.catalog.models import Sku
from app.compliance import approvals
from app.compliance.models import ApprovalRequest, AuditEvent
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.identity.models import User
from app.inventory import transfers as tr
from app.inventory.models import StockBalance, StockMovement, StockThreshold, Transfer, Warehouse
from app.inventory.operations import lot_for, move, receive

PASSWORD = "MedChannel-demo-1"


@pytest.fixture()
def world(as_tenant):
    """Warehouse ids by code and a lot-tracked SKU stocked at WH-SZ."""
    with as_tenant("acme") as s:
        wh = {c: i for c, i in s.execute(select(Warehouse.code, Warehouse.id))}
        sku = s.scalar(select(Sku).where(Sku.tracking == "lot", Sku.status == "active",
                                         Sku.id.in_(select(StockBalance.sku_id).where(
                                             StockBalance.warehouse_id == wh["WH-SZ"], StockBalance.state == "available",
                                             StockBalance.quantity >= 30))).order_by(Sku.code))
        return {**wh, "sku": sku.id, "sku_code": sku.code}


def _user(s, local):
    return s.scalar(select(User).where(User.email == f"{local}@acme.test"))


def states(s, warehouse_id, sku_id) -> dict:
    return {state: int(q) for state, q in s.execute(
        select(StockBalance.state, func.sum(StockBalance.quantity))
        .where(StockBalance.warehouse_id == warehouse_id, StockBalance.sku_id == sku_id).group_by(StockBalance.state))}


def _delta(after: dict, before: dict) -> dict:
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before) if after.get(k, 0) != before.get(k, 0)}


def _request(s, world, qty, user="channel", to="WH-SH", source="WH-SZ"):
    return tr.request_transfer(s, _user(s, user), {
        "from_warehouse_id": world[source], "to_warehouse_id": world[to], "reason": "区域缺货",
        "lines": [{"sku_id": world["sku"], "quantity": qty}]})


def _ship(s, transfer, user="channel"):
    return tr.ship_transfer(s, transfer, _user(s, user), {"carrier": "顺丰冷运", "tracking_no": "SF123",
                                                          "eta": (shanghai_today() + timedelta(days=2)).isoformat(),
                                                          "cold_chain": "1"})


def test_full_transfer_lifecycle_moves_stock_through_transit_and_inspection(as_tenant, world):
    sku, src, dst = world["sku"], world["WH-SZ"], world["WH-SH"]
    with as_tenant("acme") as s:
        before_src, before_dst = states(s, src, sku), states(s, dst, sku)
        transfer = _request(s, world, 30)
        assert transfer.status == "approved" and transfer.number.startswith("TR-")  # no chain in the demo
        assert s.get(ApprovalRequest, transfer.approval_request_id).status == "approved"
        assert _delta(states(s, src, sku), before_src) == {}
        tid = transfer.id
    with as_tenant("acme") as s:
        transfer = _ship(s, s.get(Transfer, tid))
        assert transfer.status == "shipped" and transfer.cold_chain and transfer.carrier == "顺丰冷运"
        assert all(line.lot_id for line in transfer.lines) and sum(line.quantity for line in transfer.lines) == 30
        assert _delta(states(s, src, sku), before_src) == {"available": -30}
        assert _delta(states(s, dst, sku), before_dst) == {"in_transit": 30}
        arriving = tr.open_transfers_into(s, [dst], [sku])
        assert any(a.quantity >= 30 and a.eta == transfer.eta for a in arriving)
        # FEFO: the first line is the soonest-expiring lot that was available
        lots = [line.lot for line in transfer.lines]
        assert lots == sorted(lots, key=lambda lot: (lot.expires_on is None, lot.expires_on))
    with as_tenant("acme") as s:
        transfer = s.get(Transfer, tid)
        first = transfer.lines[0]
        received = {line.id: line.quantity for line in transfer.lines}
        received[first.id] = first.quantity - 2
        with pytest.raises(InvalidInput) as refused:
            tr.receive_transfer(s, transfer, _user(s, "channel"), received)
        assert refused.value.field == "reason"
    with as_tenant("acme") as s:
        transfer = s.get(Transfer, tid)
        received = {line.id: line.quantity for line in transfer.lines}
        received[transfer.lines[0].id] -= 2
        tr.receive_transfer(s, transfer, _user(s, "channel"), received, "两盒外包装破损拒收")
        assert transfer.status == "received"
        assert _delta(states(s, dst, sku), before_dst) == {"inspection": 28}
        written_off = s.scalar(select(StockMovement).where(StockMovement.ref_type == "transfers", StockMovement.ref_id == tid,
                                                           StockMovement.kind == "adjustment"))
        assert (written_off.quantity, written_off.from_state, written_off.to_state) == (2, "in_transit", None)
        assert written_off.reason == "两盒外包装破损拒收"
        assert not [a for a in tr.open_transfers_into(s, [dst], [sku]) if a.eta == transfer.eta and a.quantity == 30]
    with as_tenant("acme") as s:
        transfer = s.get(Transfer, tid)
        tr.inspect_transfer(s, transfer, _user(s, "qa"), {})
        assert transfer.status == "completed"
        assert _delta(states(s, dst, sku), before_dst) == {"available": 28}
        assert _delta(states(s, src, sku), before_src) == {"available": -30}
        kinds = [m.kind for m in tr.transfer_movements(s, transfer)]
        assert {"transfer_out", "transfer_in", "transfer_receipt", "adjustment", "qc_release"} <= set(kinds)
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.entity_type == "transfers",
                                                                             AuditEvent.entity_id == str(tid))) >= 4


def test_shipping_more_than_available_is_refused_and_moves_nothing(as_tenant, world):
    with as_tenant("acme") as s:
        have = states(s, world["WH-SZ"], world["sku"]).get("available", 0)
        tid = _request(s, world, have + 1).id
    with as_tenant("acme") as s:
        with pytest.raises(InvalidInput) as refused:
            _ship(s, s.get(Transfer, tid))
        assert "available" in refused.value.message or "可用" in refused.value.message
    with as_tenant("acme") as s:
        assert s.get(Transfer, tid).status == "approved"
        assert states(s, world["WH-SZ"], world["sku"]).get("available", 0) == have


def test_same_warehouse_and_empty_lines_are_refused(as_tenant, world):
    with as_tenant("acme") as s:
        with pytest.raises(InvalidInput) as same:
            _request(s, world, 5, to="WH-SZ")
        assert same.value.field == "to_warehouse_id"
        with pytest.raises(InvalidInput) as empty:
            tr.request_transfer(s, _user(s, "channel"), {"from_warehouse_id": world["WH-SZ"],
                                                         "to_warehouse_id": world["WH-SH"], "reason": "x", "lines": []})
        assert empty.value.field == "lines"


def test_receiving_more_than_shipped_is_refused(as_tenant, world):
    with as_tenant("acme") as s:
        transfer = _ship(s, _request(s, world, 3))
        with pytest.raises(InvalidInput) as refused:
            tr.receive_transfer(s, transfer, _user(s, "channel"), {line.id: line.quantity + 1 for line in transfer.lines})
        assert refused.value.field.startswith("received-")


def test_regional_manager_can_only_move_stock_between_its_own_warehouses(as_tenant, world):
    with as_tenant("acme") as s:
        with pytest.raises(InvalidInput) as outside:
            _request(s, world, 2, user="sales.east", source="WH-SH", to="WH-GZ")
        assert outside.value.field == "to_warehouse_id"
        transfer = _request(s, world, 2, user="sales.east", source="WH-SZ", to="WH-SH")
        assert transfer.status == "approved"


def test_cancel_before_shipping_only(as_tenant, world):
    with as_tenant("acme") as s:
        transfer = _request(s, world, 1)
        with pytest.raises(InvalidInput):
            tr.cancel_transfer(s, transfer, _user(s, "channel"), "")
        tr.cancel_transfer(s, transfer, _user(s, "channel"), "需求取消")
        assert transfer.status == "cancelled"
        shipped = _ship(s, _request(s, world, 1))
        with pytest.raises(InvalidInput):
            tr.cancel_transfer(s, shipped, _user(s, "channel"), "太迟")


def test_transfer_waits_for_a_chain_and_follows_its_decision(as_tenant, world):
    with as_tenant("acme") as s:
        step = approvals.add_step(s, "transfer", approvals.StepSpec(name="渠道经理审核", role="channel_manager"))
        step_id = step.id
    try:
        with as_tenant("acme") as s:
            transfer = _request(s, world, 4, user="sales.east")
            assert transfer.status == "requested"
            with pytest.raises(InvalidInput):
                _ship(s, transfer)
            tid, rid = transfer.id, transfer.approval_request_id
        with as_tenant("acme") as s:
            approvals.decide(s, s.get(ApprovalRequest, rid), _user(s, "channel"), "approve", PASSWORD)
            assert s.get(Transfer, tid).status == "approved"
            other = _request(s, world, 4, user="sales.east")
            approvals.decide(s, s.get(ApprovalRequest, other.approval_request_id), _user(s, "channel"), "reject",
                             PASSWORD, comment="总仓也紧张")
            assert other.status == "rejected"
    finally:
        with as_tenant("acme") as s:
            from app.compliance.models import ApprovalStep
            approvals.remove_step(s, s.get(ApprovalStep, step_id))


def test_suggestions_send_near_expiry_or_excess_stock_to_a_warehouse_below_safety_stock(as_tenant, world):
    today = shanghai_today()
    with as_tenant("acme") as s:
        sku = s.scalar(select(Sku).where(Sku.code == world["sku_code"]))
        fresh = lot_for(s, sku, "SUGG-T1", None, today - timedelta(days=10), today + timedelta(days=40))
        receive(s, s.get(Warehouse, world["WH-GZ"]), fresh, 15)
        move(s, "qc_release", world["WH-GZ"], fresh, 15, "inspection", "available")
        have = states(s, world["WH-CD"], sku.id).get("available", 0)
        threshold = s.scalar(select(StockThreshold).where(StockThreshold.warehouse_id == world["WH-CD"],
                                                          StockThreshold.sku_id == sku.id))
        old = None if threshold is None else threshold.safety_quantity
        if threshold is None:
            threshold = StockThreshold(warehouse_id=world["WH-CD"], sku_id=sku.id, safety_quantity=0)
            s.add(threshold)
        threshold.safety_quantity = have + 10_000
        s.flush()
        suggestions = [x for x in tr.transfer_suggestions(s, tr.ChannelScope(), today)
                       if x.sku_id == sku.id and x.to_warehouse.id == world["WH-CD"]]
        assert suggestions and suggestions[0].near_expiry > 0  # near-expiry sources come first
        assert all(x.from_warehouse.id != world["WH-CD"] and x.quantity > 0 for x in suggestions)
        east = tr.ChannelScope.of(_user(s, "sales.east"))
        assert not [x for x in tr.transfer_suggestions(s, east, today) if x.to_warehouse.id == world["WH-CD"]]
        if old is None:
            s.delete(threshold)
        else:
            threshold.safety_quantity = old


# --- pages ---------------------------------------------------------------------------------------

def status_on(html: str) -> str:
    match = re.search(r'id="transfer-status">([^<]*)<', html)
    return match.group(1).strip() if match else ""


def test_transfer_pages_walk_the_lifecycle(signed_in, as_tenant, world):
    channel = signed_in("acme", "channel")
    response = channel.post("/manufacturer/transfers/new", {
        "from_warehouse_id": world["WH-SZ"], "to_warehouse_id": world["WH-BJ"], "reason": "北京缺货",
        "sku_id-0": world["sku"], "quantity-0": "3"})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    url = response.headers["Location"]
    assert status_on(channel.get(url).get_data(as_text=True)) in ("已同意", "Approved")
    eta = (shanghai_today() + timedelta(days=1)).isoformat()
    assert channel.post(url + "/ship", {"carrier": "德邦", "tracking_no": "DB1", "eta": eta}, token_from=url).status_code == 303
    tid = int(url.rstrip("/").split("/")[-1])
    with as_tenant("acme") as s:
        lines = s.get(Transfer, tid).lines
        data = {f"received-{line.id}": line.quantity for line in lines}
    assert channel.post(url + "/receive", data, token_from=url).status_code == 303
    assert channel.post(url + "/inspect", {}, token_from=url).status_code == 303
    with as_tenant("acme") as s:
        assert s.get(Transfer, tid).status == "completed"
    assert status_on(channel.get(url).get_data(as_text=True)) in ("已完成", "Completed")
    listing = channel.get("/manufacturer/transfers?status=completed").get_data(as_text=True)
    assert f"/manufacturer/transfers/{tid}" in listing
    bad = channel.post(url + "/ship", {"carrier": "x", "eta": "not-a-date"}, token_from=url)
    assert bad.status_code == 400


def test_a_suggestion_opens_a_prefilled_request(signed_in, as_tenant, world):
    with as_tenant("acme") as s:
        threshold = StockThreshold(warehouse_id=world["WH-CD"], sku_id=world["sku"], safety_quantity=1_000_000)
        existing = s.scalar(select(StockThreshold).where(StockThreshold.warehouse_id == world["WH-CD"],
                                                         StockThreshold.sku_id == world["sku"]))
        old = None if existing is None else existing.safety_quantity
        if existing is None:
            s.add(threshold)
        else:
            existing.safety_quantity, threshold = 1_000_000, existing
        s.flush()
        threshold_id = threshold.id
    try:
        channel = signed_in("acme", "channel")
        listing = channel.get("/manufacturer/transfers").get_data(as_text=True)
        link = re.search(r'href="(/manufacturer/transfers/new\?[^"]*to={0}[^"]*)"'.format(world["WH-CD"]), listing)
        assert link, "a suggestion for WH-CD with a create-request link"
        form = channel.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
        assert re.search(r'<option value="{0}" selected>'.format(world["WH-CD"]), form)
        assert re.search(r'<option value="{0}" selected>'.format(world["sku"]), form)
    finally:
        with as_tenant("acme") as s:
            row = s.get(StockThreshold, threshold_id)
            if old is None:
                s.delete(row)
            else:
                row.safety_quantity = old


def test_transfer_pages_are_scoped(signed_in, as_tenant, world):
    with as_tenant("acme") as s:
        south = _request(s, world, 1, source="WH-SZ", to="WH-GZ").id
    east = signed_in("acme", "sales.east")
    assert east.get(f"/manufacturer/transfers/{south}").status_code in (200, 404)  # WH-SZ may be in 华东
    with as_tenant("acme") as s:
        far = _request(s, world, 1, source="WH-BJ", to="WH-GZ") if states(s, world["WH-BJ"], world["sku"]).get("available") \
            else _request(s, world, 1, source="WH-CD", to="WH-GZ")
        far_id = far.id
    assert east.get(f"/manufacturer/transfers/{far_id}").status_code == 404
    assert f"/manufacturer/transfers/{far_id}\"" not in east.get("/manufacturer/transfers").get_data(as_text=True)
    assert signed_in("acme", "dealer1").get("/manufacturer/transfers").status_code == 403
    assert signed_in("acme", "hospital1").get(f"/manufacturer/transfers/{far_id}").status_code == 403
    assert signed_in("acme", "finance").get("/manufacturer/transfers").status_code == 403
    dealer = signed_in("acme", "dealer1")
    assert dealer.post(f"/manufacturer/transfers/{far_id}/cancel", {"reason": "x"},
                       token_from="/dealer/").status_code == 403
    assert signed_in("acme", "hospital2").post(f"/manufacturer/transfers/{far_id}/ship", {"carrier": "x"},
                                               token_from="/hospital/").status_code == 403
    assert signed_in("globex", "admin").post(f"/manufacturer/transfers/{far_id}/cancel", {"reason": "x"},
                                             token_from="/manufacturer/transfers").status_code == 404
    assert signed_in("globex", "admin").get(f"/manufacturer/transfers/{far_id}").status_code == 404
    qa = signed_in("acme", "qa")
    assert qa.get(f"/manufacturer/transfers/{far_id}").status_code == 200
    assert qa.post("/manufacturer/transfers/new", {"from_warehouse_id": world["WH-SZ"]},
                   token_from=f"/manufacturer/transfers/{far_id}").status_code == 403


# --- who acts at which end, and double submits ----------------------------------------------------

def _stocked_at(s, warehouse_id, minimum):
    return s.scalar(select(StockBalance.sku_id).where(StockBalance.warehouse_id == warehouse_id,
                                                      StockBalance.state == "available",
                                                      StockBalance.quantity >= minimum)
                    .order_by(StockBalance.sku_id).limit(1))


def _request_sh_to_gz(s, world, qty=2):
    sku = _stocked_at(s, world["WH-SH"], qty)
    assert sku, "the demo stocks WH-SH"
    return tr.request_transfer(s, _user(s, "channel"), {
        "from_warehouse_id": world["WH-SH"], "to_warehouse_id": world["WH-GZ"], "reason": "华南缺货",
        "lines": [{"sku_id": sku, "quantity": qty}]})


def _eta():
    return (shanghai_today() + timedelta(days=2)).isoformat()


def test_regional_managers_act_only_at_their_own_end_of_a_transfer(signed_in, as_tenant, world):
    """WH-SH (华东) → WH-GZ (华南): 华东 ships or cancels, 华南 receives and inspects;
    both may read it."""
    with as_tenant("acme") as s:
        transfer = _request_sh_to_gz(s, world)
        tid = transfer.id
        east, south = _user(s, "sales.east"), _user(s, "sales.south")
        assert tr.may_act(s, east, transfer, "ship") and not tr.may_act(s, south, transfer, "ship")
        with pytest.raises(InvalidInput):
            _ship(s, transfer, user="sales.south")
        with pytest.raises(InvalidInput):
            tr.cancel_transfer(s, transfer, south, "不要了")
        assert transfer.status == "approved"
    url = f"/manufacturer/transfers/{tid}"
    south_client, east_client = signed_in("acme", "sales.south"), signed_in("acme", "sales.east")
    page = south_client.get(url)
    assert page.status_code == 200 and f"{url}/ship" not in page.get_data(as_text=True)
    assert south_client.post(url + "/ship", {"carrier": "x", "eta": _eta()}, token_from=url).status_code == 403
    assert south_client.post(url + "/cancel", {"reason": "x"}, token_from=url).status_code == 403
    assert f"{url}/ship" in east_client.get(url).get_data(as_text=True)
    assert east_client.post(url + "/ship", {"carrier": "德邦", "eta": _eta()}, token_from=url).status_code == 303
    with as_tenant("acme") as s:
        transfer = s.get(Transfer, tid)
        assert transfer.status == "shipped"
        data = {f"received-{line.id}": line.quantity for line in transfer.lines}
        with pytest.raises(InvalidInput):
            tr.receive_transfer(s, transfer, _user(s, "sales.east"), {})
    assert f"{url}/receive" not in east_client.get(url).get_data(as_text=True)
    assert east_client.post(url + "/receive", data, token_from=url).status_code == 403
    assert f"{url}/receive" in south_client.get(url).get_data(as_text=True)
    assert south_client.post(url + "/receive", data, token_from=url).status_code == 303
    assert east_client.post(url + "/inspect", {}, token_from=url).status_code == 403
    with as_tenant("acme") as s:
        transfer = s.get(Transfer, tid)
        assert transfer.status == "received"
        with pytest.raises(InvalidInput):
            tr.inspect_transfer(s, transfer, _user(s, "sales.east"), {})
    assert south_client.post(url + "/inspect", {}, token_from=url).status_code == 303
    with as_tenant("acme") as s:
        assert s.get(Transfer, tid).status == "completed"


def _after_another_commit(as_tenant, load, first, second):
    """``load`` the object in one session (thread A); ``first`` runs on it in another
    session and commits; then ``second`` runs in A on A's now stale copy. Returns
    {"refused": InvalidInput} or {"value": ...} for the second call."""
    import threading

    loaded, go, outcome = threading.Event(), threading.Event(), {}

    def stale():
        try:
            with as_tenant("acme") as s:
                obj = load(s)
                loaded.set()
                go.wait(30)
                try:
                    outcome["value"] = second(s, obj)
                except InvalidInput as err:
                    outcome["refused"] = err
        except Exception as err:  # pragma: no cover - reported below
            outcome["error"] = err

    thread = threading.Thread(target=stale)
    thread.start()
    assert loaded.wait(30)
    try:
        with as_tenant("acme") as s:
            first(s, load(s))
    finally:
        go.set()
        thread.join(60)
    assert "error" not in outcome, outcome
    return outcome


def _both_at_once(as_tenant, load, *acts):
    """Each act runs in its own thread and session on its own copy, released together."""
    import threading

    barrier, outcomes = threading.Barrier(len(acts)), {}

    def run(n, act):
        try:
            with as_tenant("acme") as s:
                obj = load(s)
                barrier.wait(timeout=10)
                try:
                    outcomes[n] = ("done", act(s, obj))
                except InvalidInput as err:
                    outcomes[n] = ("refused", err)
        except Exception as err:  # pragma: no cover - reported below
            outcomes[n] = ("error", err)

    threads = [threading.Thread(target=run, args=(n, act)) for n, act in enumerate(acts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not [o for o in outcomes.values() if o[0] == "error"], outcomes
    return [outcomes[n][0] for n in range(len(acts))]


def _loaded_transfer(tid):
    def load(s):
        transfer = s.get(Transfer, tid)
        list(transfer.lines)
        return transfer
    return load


def test_a_second_ship_after_the_first_committed_is_refused_and_moves_nothing(as_tenant, world):
    sku, src = world["sku"], world["WH-SZ"]
    with as_tenant("acme") as s:
        tid = _request(s, world, 4).id
        before = states(s, src, sku)
    outcome = _after_another_commit(as_tenant, _loaded_transfer(tid), lambda s, t: _ship(s, t), lambda s, t: _ship(s, t))
    assert "refused" in outcome
    with as_tenant("acme") as s:
        assert _delta(states(s, src, sku), before) == {"available": -4}
        assert sum(line.quantity for line in s.get(Transfer, tid).lines) == 4
        assert s.scalar(select(func.count()).select_from(StockMovement).where(
            StockMovement.ref_type == "transfers", StockMovement.ref_id == tid, StockMovement.kind == "transfer_out")) >= 1
        assert s.scalar(select(func.sum(StockMovement.quantity)).where(
            StockMovement.ref_type == "transfers", StockMovement.ref_id == tid, StockMovement.kind == "transfer_out")) == 4


def test_two_ships_at_once_send_the_goods_once(as_tenant, world):
    sku, src = world["sku"], world["WH-SZ"]
    with as_tenant("acme") as s:
        tid = _request(s, world, 3).id
        before = states(s, src, sku)
    results = _both_at_once(as_tenant, _loaded_transfer(tid), lambda s, t: _ship(s, t), lambda s, t: _ship(s, t))
    assert sorted(results) == ["done", "refused"]
    with as_tenant("acme") as s:
        assert _delta(states(s, src, sku), before) == {"available": -3}
        assert s.scalar(select(func.sum(StockMovement.quantity)).where(
            StockMovement.ref_type == "transfers", StockMovement.ref_id == tid, StockMovement.kind == "transfer_in")) == 3


def test_a_second_receive_or_a_late_cancel_is_refused(as_tenant, world):
    sku, dst = world["sku"], world["WH-SH"]
    with as_tenant("acme") as s:
        tid = _request(s, world, 2).id
    # cancel on a copy read before the shipment committed
    outcome = _after_another_commit(as_tenant, _loaded_transfer(tid), lambda s, t: _ship(s, t),
                                    lambda s, t: tr.cancel_transfer(s, t, _user(s, "channel"), "不要了"))
    assert "refused" in outcome
    with as_tenant("acme") as s:
        assert s.get(Transfer, tid).status == "shipped"
        before = states(s, dst, sku)

    def receive(s, t):
        return tr.receive_transfer(s, t, _user(s, "channel"), {})

    outcome = _after_another_commit(as_tenant, _loaded_transfer(tid), receive, receive)
    assert "refused" in outcome
    with as_tenant("acme") as s:
        assert _delta(states(s, dst, sku), before) == {"in_transit": -2, "inspection": 2}
    outcome = _after_another_commit(as_tenant, _loaded_transfer(tid),
                                    lambda s, t: tr.inspect_transfer(s, t, _user(s, "qa"), {}),
                                    lambda s, t: tr.inspect_transfer(s, t, _user(s, "qa"), {}))
    assert "refused" in outcome
    with as_tenant("acme") as s:
        assert _delta(states(s, dst, sku), before) == {"in_transit": -2, "available": 2}
