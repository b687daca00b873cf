"""Writes about sales orders: placing one through every gate, FEFO allocation and
back-orders, the credit approval, re-allocation and cancellation. Functions validate,
change and flush; they never commit.

Gates (``check_lines``) collect *every* problem of an order, each tied to its line, so the
dealer sees them all next to the lines at once; a refused order writes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

from flask_babel import gettext as _
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.authorizations import sellability
from app.channel.models import Dealer, Hospital
from app.compliance import approvals
from app.compliance.operations import reason
from app.core.errors import InvalidInput
from app.core.money import MAX_AMOUNT, fen
from app.core.i18n import shanghai_today
from app.core.numbering import assign_number
from app.core.settings import setting
from app.inventory.models import StockBalance, Transfer, TransferLine
from app.inventory.operations import move, serving_warehouse_ids, take_fefo
from app.orders.events import add_event
from app.orders.models import Allocation, Order, OrderLine
from app.orders.rules import CreditCheck, LineProgress, fulfilment_status
from app.pricing import rules as price_rules
from app.pricing import special_prices
from app.pricing.queries import resolve_price
from app.rebates import ledger as rebate_ledger
from app.rebates import rules_use as rebate_rules

#: the orders whose amounts count against a dealer's credit (accepted and not closed)
OPEN_FOR_CREDIT = ("approved", "allocated", "partially_shipped", "shipped", "delivered")
#: orders that may still receive stock
ALLOCATABLE = ("approved", "allocated", "partially_shipped")
CANCELLABLE = ("pending_approval", "approved", "allocated")
MAX_LINES = 200
MAX_QUANTITY = 1_000_000


class OrderRefused(Exception):
    """The order did not pass its gates; nothing was written. ``problems`` is a list of
    ``(line_index | None, field, message)``: the index of the line as given (None for the
    order as a whole), the field the message belongs next to, and the translated sentence."""

    def __init__(self, problems: list[tuple[int | None, str | None, str]]):
        super().__init__("; ".join(p[2] for p in problems))
        self.problems = problems

    def for_line(self, index: int) -> list[str]:
        return [m for i, _f, m in self.problems if i == index]

    @property
    def general(self) -> list[str]:
        return [m for i, _f, m in self.problems if i is None]


# --- credit --------------------------------------------------------------------------------

class CreditPosition(NamedTuple):
    #: the exposure before a new order: ``uninvoiced`` + ``receivable``
    open_amount: Decimal
    #: open amount of invoices past their due day (less money received, not yet matched)
    overdue_amount: Decimal
    #: accepted orders' amounts not yet invoiced
    uninvoiced: Decimal = Decimal(0)
    #: invoices − credit notes − payments
    receivable: Decimal = Decimal(0)


def credit_position(session: Session, dealer_id: int, day: date | None = None) -> CreditPosition:
    """What the dealer owes or has committed: accepted orders not yet invoiced plus its
    open receivables (invoices − credit notes − payments), and what is overdue. Any
    overdue amount sends a new order to the ``order_over_credit`` approval."""
    from app.finance.queries import credit_figures

    figures = credit_figures(session, dealer_id, OPEN_FOR_CREDIT, day or shanghai_today())
    return CreditPosition(figures.uninvoiced + figures.receivable, figures.overdue, figures.uninvoiced,
                          figures.receivable)


def _lock_dealer(session: Session, dealer_id: int) -> None:
    """One order placement per dealer at a time: two orders checked concurrently against
    the same credit limit could otherwise both pass."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.orders.credit.' || :d))"),
                    {"d": str(dealer_id)})


# --- the gates -------------------------------------------------------------------------------

@dataclass
class LineCheck:
    """One line as the gates saw it: the SKU, quantity, price and its reason, and what
    stops it (empty: the line may go ahead)."""

    index: int
    sku: Sku | None
    quantity: int | None
    unit_price: Decimal | None = None
    amount: Decimal | None = None
    price_source: tuple[str, int] | None = None
    price_note: str | None = None
    available: int | None = None
    quoted: bool = False
    #: a free-goods line (货补): price 0, paid from the rebate balance by ``free_goods_value``
    free_goods: bool = False
    free_goods_price: Decimal | None = None
    free_goods_value: Decimal | None = None
    problems: list[tuple[str | None, str]] = field(default_factory=list)


@dataclass
class OrderCheck:
    lines: list[LineCheck]
    general: list[tuple[str | None, str]]
    #: the rebate balance used as an invoice offset (票折), and the most the order may carry
    rebate_offset: Decimal = Decimal("0.00")
    max_offset: Decimal = Decimal("0.00")

    @property
    def problems(self) -> list[tuple[int | None, str | None, str]]:
        out = [(None, f, m) for f, m in self.general]
        for line in self.lines:
            out += [(line.index, f, m) for f, m in line.problems]
        return out

    @property
    def total(self) -> Decimal:
        return sum((line.amount or Decimal(0) for line in self.lines), Decimal(0))

    @property
    def free_goods_value(self) -> Decimal:
        """What the free-goods lines (货补) take from the rebate balance."""
        return sum((line.free_goods_value or Decimal(0) for line in self.lines if line.free_goods), Decimal(0))

    @property
    def net_total(self) -> Decimal:
        """What the dealer will owe: the order amount less the invoice offset."""
        return self.total - self.rebate_offset


def _quantity(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text_value = str(value or "").strip()
    return int(text_value) if text_value.isascii() and text_value.isdigit() and len(text_value) <= 9 else None


def special_price_cover(session: Session, dealer_id: int, hospital_id: int | None, sku_id: int, price: Decimal,
                        day: date, quantity: int | None = None):
    """The approved special price (特价申请) that allows ``price`` below the band floor —
    one of this dealer's for this hospital and SKU, valid on ``day``, at no more than
    ``price``, with ``quantity`` units left in its cap — or None."""
    offers = [o for o in special_prices.offers_for(session, dealer_id, hospital_id, sku_id, day) if o.price <= price]
    return price_rules.choose_special_price(offers, quantity or 0).use


def _price_free_goods(answer, check: LineCheck) -> None:
    """A free-goods line is delivered at no charge and paid from the rebate balance by
    its value: the units at the price ``resolve_price`` gives (no band: nothing is sold
    at that price)."""
    if answer.price is None:
        check.problems.append(("sku_id", answer.why))
        return
    check.unit_price, check.amount, check.free_goods_price = Decimal("0.00"), Decimal("0.00"), answer.price
    check.price_note = _("Free goods valued at %(price)s a unit: %(why)s", price=answer.price,
                         why=answer.why)[:300]
    if check.quantity:
        check.free_goods_value = fen(answer.price * check.quantity)


def _price_line(session: Session, dealer: Dealer, hospital_id: int | None, check: LineCheck, given: dict,
                day: date) -> None:
    answer = resolve_price(session, dealer.id, hospital_id, check.sku.id, day)
    if check.free_goods:
        return _price_free_goods(answer, check)
    quoted = given.get("unit_price")
    special = None
    if quoted is not None:
        price = Decimal(quoted)
        source = given.get("price_source")
        check.price_note = given.get("price_note") or _("Quoted price.")
    else:
        # An approved special price for this hospital beats the regular price when it is
        # lower; its cap is checked for the whole order at the end (special_prices.check_caps).
        choice = price_rules.choose_special_price(
            special_prices.offers_for(session, dealer.id, hospital_id, check.sku.id, day), check.quantity or 0)
        special = choice.use or choice.short
        if special is not None and answer.price is not None and special.price >= answer.price:
            special = None
        if special is not None:
            price = special.price
            source = (special_prices.SOURCE, special.line_id)
            check.price_note = special_prices.special_price_note(special, check.quantity)
        elif answer.price is None:
            check.problems.append(("sku_id", answer.why))
            return
        else:
            price = answer.price
            source = ({price_rules.HOSPITAL_AWARD: "tender_prices", price_rules.ALLIANCE_AWARD: "tender_prices",
                       price_rules.PRICE_LIST: "price_lists"}[answer.source], answer.record_id)
            check.price_note = answer.why[:300]
    awarded = answer.source in (price_rules.HOSPITAL_AWARD, price_rules.ALLIANCE_AWARD) and price == answer.price
    band = "within" if special is not None else price_rules.band_check(price, answer.band)
    if band == "below_floor" and not awarded:
        cover = special_price_cover(session, dealer.id, hospital_id, check.sku.id, price, day, check.quantity)
        if cover is None:
            check.problems.append(("unit_price", _(
                "%(price)s is below the band floor of %(floor)s for %(sku)s: ask for a special price.",
                price=price, floor=answer.band.floor, sku=check.sku.code)))
        else:  # a quoted price below the floor that a special price allows counts against its cap
            source = (special_prices.SOURCE, cover.line_id)
            check.price_note = f"{check.price_note} {special_prices.special_price_note(cover, check.quantity)}"[:300]
    elif band == "above_ceiling" and not awarded:
        check.problems.append(("unit_price", _(
            "%(price)s is above the band ceiling of %(ceiling)s for %(sku)s.", price=price,
            ceiling=answer.band.ceiling, sku=check.sku.code)))
    check.unit_price = price
    check.price_source = tuple(source) if source else None
    if check.quantity:
        check.amount = fen(price * check.quantity)


def check_lines(session: Session, dealer: Dealer, lines: list[dict], hospital_id: int | None = None,
                day: date | None = None, requested_delivery_on: date | None = None,
                rebate_offset=None) -> OrderCheck:
    """Run every gate on every line without writing anything (the order form's "check"
    and ``place_order`` both use it). A line with ``free_goods`` true is 货补; the
    rebate balance must cover the free goods' value and ``rebate_offset`` (票折), which
    may not exceed the tenant's share of the order amount (``rebate_offset_max_pct``)."""
    day = day or shanghai_today()
    general: list[tuple[str | None, str]] = []
    if dealer.status != "active":
        general.append((None, _("%(dealer)s is not active and cannot order.", dealer=dealer.name)))
    if hospital_id is not None:
        hospital = session.get(Hospital, hospital_id)
        if hospital is None:
            general.append(("hospital_id", _("No such hospital.")))
            hospital_id = None
        elif hospital.status != "active":
            general.append(("hospital_id", _("%(hospital)s is not active.", hospital=hospital.name)))
    if requested_delivery_on is not None and requested_delivery_on < day:
        general.append(("requested_delivery_on", _("The requested delivery date has passed.")))
    if not lines:
        general.append((None, _("Add at least one line.")))
    elif len(lines) > MAX_LINES:
        general.append((None, _("An order has at most %(n)d lines.", n=MAX_LINES)))
        lines = lines[:MAX_LINES]

    checks: list[LineCheck] = []
    seen: dict[tuple[int, bool], LineCheck] = {}
    for index, given in enumerate(lines):
        sku_id = given.get("sku_id")
        sku = session.get(Sku, sku_id) if isinstance(sku_id, int) and not isinstance(sku_id, bool) and 0 < sku_id < 2**63 else None
        quantity = _quantity(given.get("quantity"))
        free = given.get("free_goods") is True
        check = LineCheck(index, sku, quantity, free_goods=free)
        if sku is None:
            check.problems.append(("sku_id", _("Choose a product.")))
        if quantity is None or quantity <= 0 or quantity > MAX_QUANTITY:
            check.problems.append(("quantity", _("Enter a whole number of units from 1 to %(n)d.", n=MAX_QUANTITY)))
            check.quantity = None
        if sku is not None and (sku.id, free) in seen:
            first = seen[(sku.id, free)]
            if (free or given.get("unit_price") is None) and first.quantity and check.quantity and not first.quoted:
                first.quantity += check.quantity  # the same SKU twice: one line
                if first.unit_price is not None:
                    first.amount = fen(first.unit_price * first.quantity)
                if first.free_goods_price is not None:
                    first.free_goods_value = fen(first.free_goods_price * first.quantity)
                continue
            check.problems.append(("sku_id", _("%(sku)s appears on another line already.", sku=sku.code)))
            checks.append(check)
            continue
        check.quoted = given.get("unit_price") is not None and not free
        if sku is not None:
            seen[(sku.id, free)] = check
            for block in sellability(session, dealer.id, sku.id, hospital_id, day):
                if block.code in ("dealer_inactive", "hospital_inactive"):
                    continue  # said once for the whole order
                check.problems.append(("sku_id", block.message))
            _price_line(session, dealer, hospital_id, check, given, day)
        checks.append(check)
    too_big = _("Too large an amount: an order line and an order stay below %(limit)s. Split the order.",
                limit=f"{MAX_AMOUNT:,.0f}")
    for check in checks:
        if (check.unit_price is not None and check.unit_price >= MAX_AMOUNT) or (
                check.amount is not None and check.amount >= MAX_AMOUNT) or (
                check.free_goods_value is not None and check.free_goods_value >= MAX_AMOUNT):
            check.problems.append(("quantity", too_big))
    by_index = {check.index: check for check in checks}
    for index, field_, message in special_prices.check_caps(session, checks):
        by_index[index].problems.append((field_, message))
    order_check = OrderCheck(checks, general)
    if order_check.total >= MAX_AMOUNT or order_check.free_goods_value >= MAX_AMOUNT:
        general.append((None, too_big))
    else:
        _check_rebate_use(session, dealer, order_check, rebate_offset, day)
    _stock_hint(session, dealer, checks)
    return order_check


def _check_rebate_use(session: Session, dealer: Dealer, order_check: OrderCheck, rebate_offset, day: date) -> None:
    """票折 and 货补 against the dealer's balance (read without the lock: ``place_order``
    checks again under it), the cap on the offset and the order amount."""
    cap_pct = rebate_ledger.offset_cap_pct(session)
    order_check.max_offset = rebate_rules.max_offset(order_check.total, cap_pct)
    try:
        order_check.rebate_offset = rebate_ledger.parse_offset(rebate_offset)
    except rebate_ledger.RebateRefused as err:
        order_check.general.append((err.field, err.message))
        return
    if order_check.rebate_offset <= 0 and order_check.free_goods_value <= 0:
        return
    pos = rebate_ledger.position(session, dealer.id)
    order_check.general.extend(rebate_ledger.order_problems(pos, order_check.rebate_offset, order_check.free_goods_value,
                                                            order_check.total, cap_pct, day))


def _stock_hint(session: Session, dealer: Dealer, checks: list[LineCheck]) -> None:
    """Units available now in the dealer's serving warehouses (what the form shows)."""
    sku_ids = [c.sku.id for c in checks if c.sku is not None]
    if not sku_ids:
        return
    warehouses = serving_warehouse_ids(session, dealer.id)
    found = dict(session.execute(select(StockBalance.sku_id, func.sum(StockBalance.quantity)).where(
        StockBalance.sku_id.in_(sku_ids), StockBalance.state == "available",
        StockBalance.warehouse_id.in_(warehouses)).group_by(StockBalance.sku_id)).all())
    for c in checks:
        if c.sku is not None:
            c.available = int(found.get(c.sku.id, 0))


# --- placing an order ------------------------------------------------------------------------

def _order_by_key(session: Session, key: str) -> Order | None:
    return session.scalar(select(Order).where(Order.idempotency_key == key))


def _same_order(order: Order, dealer: Dealer) -> Order:
    if order.dealer_id != dealer.id:
        raise OrderRefused([(None, None, _("This form was already used; open a new order form."))])
    return order


def place_order(session: Session, dealer: Dealer, user, lines: list[dict], hospital_id: int | None = None,
                idempotency_key: str | None = None, requested_delivery_on: date | None = None,
                note: str | None = None, quote=None, day: date | None = None, rebate_offset=None) -> Order:
    """Place a dealer's order. Every gate runs on every line (authorization, qualifications,
    registration, price and band, quantity); any problem refuses the whole order with
    ``OrderRefused`` and nothing written. Within the credit limit the order is approved and
    allocated at once; over it, it waits for the ``order_over_credit`` approval.
    ``rebate_offset`` (票折) and free-goods lines (货补) draw on the rebate balance in the
    same transaction (a ``used`` row per credit); the credit check counts the order less
    its offset. The same ``idempotency_key`` twice returns the first order (a double
    click, a retry)."""
    day = day or shanghai_today()
    key = (idempotency_key or "").strip()[:64] or None
    if key is not None and (existing := _order_by_key(session, key)) is not None:
        return _same_order(existing, dealer)
    note = (note or "").strip() or None
    if note and len(note) > 2000:
        raise OrderRefused([(None, "note", _("Use at most %(n)d characters.", n=2000))])
    checked = check_lines(session, dealer, lines, hospital_id, day, requested_delivery_on, rebate_offset=rebate_offset)
    if checked.problems:
        raise OrderRefused(checked.problems)

    _lock_dealer(session, dealer.id)
    # the special prices' caps again, under a row lock on their lines: a racing order that
    # took the last units committed before this count, and is seen
    capped = special_prices.check_caps(session, checked.lines, lock=True)
    if capped:
        raise OrderRefused(capped)
    try:  # under the rebate lock from here on: the balance checked is the balance spent
        rebate_takes = rebate_ledger.plan_order_use(session, dealer.id, checked.rebate_offset,
                                                    checked.free_goods_value, checked.total, day)
    except rebate_ledger.RebateRefused as err:
        raise OrderRefused([(None, err.field, err.message)]) from None
    position = credit_position(session, dealer.id, day)
    credit = CreditCheck(limit=Decimal(dealer.credit_limit or 0), open_amount=position.open_amount,
                         overdue_amount=position.overdue_amount, order_amount=checked.net_total)
    order = Order(kind="standard", dealer_id=dealer.id, hospital_id=hospital_id, idempotency_key=key,
                  status="approved" if credit.passes else "pending_approval", submitted_by_id=user.id if user else None,
                  requested_delivery_on=requested_delivery_on, note=note, total_amount=checked.total,
                  rebate_offset=checked.rebate_offset,
                  credit_check=credit.facts(), quote_id=quote.id if quote is not None else None)
    assign_number(session, order, "SO")
    for line_no, c in enumerate(checked.lines, 1):
        order.lines.append(OrderLine(
            line_no=line_no, sku_id=c.sku.id, quantity=c.quantity, unit_price=c.unit_price, amount=c.amount,
            tax_rate=c.sku.tax_rate, price_source_type=c.price_source[0] if c.price_source else None,
            price_source_id=c.price_source[1] if c.price_source else None, price_note=c.price_note,
            free_goods=c.free_goods, free_goods_value=c.free_goods_value or Decimal("0.00")))
    try:
        with session.begin_nested():
            session.add(order)
            session.flush()
    except IntegrityError as err:
        if key is None or "idempotency_key" not in str(err.orig):
            raise
        # Another request with the same key committed first: that one is the order.
        existing = _order_by_key(session, key)
        if existing is None:
            raise
        return _same_order(existing, dealer)

    actor_id = user.id if user else None
    add_event(session, order, "submitted", actor_id, lines=len(order.lines), amount=str(order.total_amount))
    if rebate_takes:
        rebate_ledger.write_order_use(session, order, rebate_takes, user, day)
        add_event(session, order, "rebate_used", actor_id, offset=str(checked.rebate_offset),
                  free_goods=str(checked.free_goods_value), net=str(checked.net_total))
    if credit.passes:
        add_event(session, order, "approved", actor_id, gates=True)
        allocate_order(session, order, actor_id)
        return order
    add_event(session, order, "approval_requested", actor_id, over_limit=str(credit.over_limit),
              limit=str(credit.limit), overdue=str(credit.overdue_amount))
    title = (_("Order %(number)s over the credit limit of %(dealer)s", number=order.number, dealer=dealer.name)
             if credit.over_limit else
             _("Order %(number)s of %(dealer)s, who has overdue invoices", number=order.number, dealer=dealer.name))
    request = approvals.submit(
        session, "order_over_credit", title, user,
        {"amount": order.total_amount, "over_limit": credit.over_limit, "overdue_amount": credit.overdue_amount},
        entity=("orders", order.id), region_id=dealer.region_id)
    order.approval_request_id = request.id
    session.flush()
    return order


def lock_order(session: Session, order_id: int) -> Order | None:
    """Row-lock an order and its lines and give them back fresh from the database (two
    clerks, or a clerk and a job, acting on the same order are served one after the other,
    and the second sees what the first did)."""
    order = session.scalars(select(Order).where(Order.id == order_id).with_for_update(of=Order)
                            .execution_options(populate_existing=True)).first()
    if order is not None:
        list(session.scalars(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id)
                             .with_for_update(of=OrderLine).execution_options(populate_existing=True)))
        session.refresh(order, ["lines"])
    return order


def credit_approval_decided(session: Session, request) -> None:
    """The ``order_over_credit`` request was decided: approve and allocate the order, or
    reject it. An order cancelled meanwhile stays cancelled."""
    order = lock_order(session, int(request.entity_id)) if request.entity_id else None
    if order is None or order.status != "pending_approval":
        return
    order.approval_request_id = request.id
    from app.compliance.models import ApprovalDecision

    last = session.scalar(select(ApprovalDecision).where(ApprovalDecision.request_id == request.id)
                          .order_by(ApprovalDecision.id.desc()).limit(1))
    actor_id = last.approver_id if last is not None else None
    if request.status == "approved":
        order.status = "approved"
        session.flush()
        add_event(session, order, "approved", actor_id, request_id=request.id)
        allocate_order(session, order, actor_id)
    elif request.status == "rejected":
        order.status = "rejected"
        session.flush()
        add_event(session, order, "rejected", actor_id, request_id=request.id,
                  comment=(last.comment if last is not None else None))
        from app.identity.models import User

        _release_rebate(session, order, session.get(User, actor_id) if actor_id else None)


def _release_rebate(session: Session, order: Order, user) -> None:
    """A cancelled or refused order gives back the rebate balance it drew on."""
    released = rebate_ledger.release_order(session, order, user)
    if released:
        add_event(session, order, "rebate_released", user.id if user else None, amount=str(released),
                  status=order.status)


# --- allocation ----------------------------------------------------------------------------

def min_shelf_days(session: Session, order: Order) -> int:
    """The remaining shelf life an allocation for this order needs: the strictest of the
    hospital's, the dealer's and the tenant's default."""
    return max(order.hospital.min_shelf_days or 0 if order.hospital else 0, order.dealer.min_shelf_days or 0,
               setting(session, "default_min_shelf_days") or 0)


def expected_on(session: Session, sku_id: int, warehouse_ids: list[int], short: int, day: date) -> date | None:
    """When ``short`` more units of the SKU should be available in these warehouses: stock
    now in inspection (released within two days), then open transfers in by their ETA —
    the first date by which enough is coming; None ("no date yet") if not enough is."""
    sources: list[tuple[date, int]] = []
    inspecting = session.scalar(select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(
        StockBalance.sku_id == sku_id, StockBalance.state == "inspection",
        StockBalance.warehouse_id.in_(warehouse_ids)))
    if inspecting:
        sources.append((day + timedelta(days=2), int(inspecting)))
    # (the transfers helper's open_transfers_into does the same; this keeps orders standalone)
    incoming = session.execute(
        select(Transfer.eta, func.sum(TransferLine.quantity)).join(TransferLine, TransferLine.transfer_id == Transfer.id)
        .where(Transfer.to_warehouse_id.in_(warehouse_ids), Transfer.status.in_(("approved", "shipped")),
               Transfer.eta.is_not(None), TransferLine.sku_id == sku_id)
        .group_by(Transfer.eta)).all()
    sources += [(max(eta, day), int(q)) for eta, q in incoming]
    covered = 0
    for when, quantity in sorted(sources):
        covered += quantity
        if covered >= short:
            return when
    return None


def allocate_order(session: Session, order: Order, actor_id: int | None = None, day: date | None = None) -> int:
    """Allocate what is still missing on each line, FEFO across the dealer's serving
    warehouses, honouring the minimum remaining shelf life; what cannot be found is
    back-ordered with its expected date. Returns the number of units allocated now."""
    order = lock_order(session, order.id)
    if order is None or order.status not in ALLOCATABLE:
        return 0
    day = day or shanghai_today()
    warehouses = serving_warehouse_ids(session, order.dealer_id)
    shelf = min_shelf_days(session, order)
    allocated_now, short_lines = 0, []
    # SKU order: two orders allocating the same SKUs lock their balances in the same order
    for line in sorted(order.lines, key=lambda line_: (line_.sku_id, line_.id)):
        wanted = line.quantity - line.allocated_quantity - line.shipped_quantity
        if wanted <= 0:
            line.backorder_expected_on = None
            continue
        taken = take_fefo(session, line.sku_id, warehouses, wanted, "allocated", "allocation",
                          ref=("order_lines", line.id), min_shelf_days=shelf, day=day, actor_id=actor_id)
        for pick in taken.picks:
            session.add(Allocation(order_line_id=line.id, warehouse_id=pick.warehouse_id, lot_id=pick.lot_id,
                                   quantity=pick.quantity))
            line.allocated_quantity += pick.quantity
            allocated_now += pick.quantity
        if taken.short:
            line.backorder_expected_on = expected_on(session, line.sku_id, warehouses, taken.short, day)
            short_lines.append((line, taken.short))
        else:
            line.backorder_expected_on = None
    session.flush()
    if allocated_now:
        add_event(session, order, "allocated", actor_id, units=allocated_now)
    for line, short in short_lines:
        add_event(session, order, "backordered", actor_id, sku=line.sku.code, quantity=short,
                  expected_on=line.backorder_expected_on.isoformat() if line.backorder_expected_on else None)
    refresh_status(session, order)
    return allocated_now


def reallocate_open_orders(session: Session, actor_id: int | None = None, limit: int = 500) -> int:
    """Try the back-orders of open orders again, oldest first (a job can call this after
    receipts). Returns the number of orders that received units."""
    ids = list(session.scalars(
        select(Order.id).where(Order.status.in_(ALLOCATABLE), Order.id.in_(
            select(OrderLine.order_id).where(OrderLine.quantity > OrderLine.allocated_quantity + OrderLine.shipped_quantity)))
        .order_by(Order.id).limit(limit)))
    served = 0
    for order_id in ids:
        if allocate_order(session, session.get(Order, order_id), actor_id):
            served += 1
    return served


def refresh_status(session: Session, order: Order) -> str:
    """Recompute the order's status from its lines' progress (approved → allocated →
    partially shipped → shipped → delivered); held statuses stay."""
    progress = [LineProgress(line.quantity, line.allocated_quantity, line.shipped_quantity, line.delivered_quantity)
                for line in order.lines]
    status = fulfilment_status(order.status, progress)
    if status != order.status:
        order.status = status
        session.flush()
    return status


# --- cancelling --------------------------------------------------------------------------------

def cancel_order(session: Session, order: Order, user, why: str) -> None:
    """Cancel an order nothing of which has shipped: its allocated units go back to
    available stock, an open credit approval is withdrawn. A reason is required."""
    why = (why or "").strip()
    if not why:
        raise InvalidInput("reason", _("Give a reason: it is kept in the audit trail."))
    if len(why) > 500:
        raise InvalidInput("reason", _("Use at most %(n)d characters.", n=500))
    from app.orders.fulfilment import cancel_shipment
    from app.orders.models import Shipment

    # packed shipments first, then the order: the lock order ``ship_shipment`` uses too
    packed = list(session.scalars(select(Shipment).where(Shipment.order_id == order.id, Shipment.status == "packed")
                                  .order_by(Shipment.id).with_for_update(of=Shipment)))
    order = lock_order(session, order.id)
    if order.status not in CANCELLABLE or any(line.shipped_quantity for line in order.lines):
        raise InvalidInput(None, _("Only an order nothing of which has shipped can be cancelled."))
    if order.rebate_offset or any(line.free_goods for line in order.lines):
        # before any stock moves: an order being placed holds this lock while it allocates
        rebate_ledger.lock_dealer(session, order.dealer_id)
    actor_id = user.id if user else None
    with reason(session, why, "cancel"):
        packed += [s for s in session.scalars(select(Shipment).where(Shipment.order_id == order.id,
                                                                     Shipment.status == "packed"))
                   if s not in packed]  # packed after we looked (the order lock now keeps others out)
        for shipment in packed:
            cancel_shipment(session, shipment, user)
        lines = {line.id: line for line in order.lines}
        allocations = list(session.scalars(
            select(Allocation).join(OrderLine, OrderLine.id == Allocation.order_line_id)
            .where(OrderLine.order_id == order.id, Allocation.status == "allocated")
            .order_by(Allocation.id).with_for_update(of=Allocation).execution_options(populate_existing=True)))
        released = 0
        for allocation in allocations:
            line = lines[allocation.order_line_id]
            move(session, "deallocation", allocation.warehouse_id, allocation.lot_id, allocation.quantity,
                 "allocated", "available", why, ("order_lines", line.id), actor_id)
            allocation.status = "released"
            line.allocated_quantity -= allocation.quantity
            released += allocation.quantity
        for line in order.lines:
            line.backorder_expected_on = None
        order.status = "cancelled"
        session.flush()
        if order.approval_request_id:
            from app.compliance.models import ApprovalRequest

            request = session.get(ApprovalRequest, order.approval_request_id)
            if request is not None and request.status in ("in_review", "returned"):
                request.status = "withdrawn"
                request.decided_at = session.execute(select(func.now())).scalar()
                session.flush()
    add_event(session, order, "cancelled", actor_id, reason=why, released=released)
    with reason(session, why, "cancel"):
        _release_rebate(session, order, user)


# --- quotes → lines -----------------------------------------------------------------------------

def quote_lines_for_order(quote) -> list[dict]:
    """The order lines a quote converts into: its quantities at its prices."""
    return [{"sku_id": line.sku_id, "quantity": line.quantity, "unit_price": line.unit_price,
             "price_source": ("quote_lines", line.id),
             "price_note": _("Quote %(number)s, valid until %(day)s.", number=quote.number,
                             day=quote.valid_until.isoformat() if quote.valid_until else "")}
            for line in quote.lines]


__all__ = ["OrderRefused", "place_order", "allocate_order", "refresh_status", "cancel_order", "credit_position",
           "credit_approval_decided", "reallocate_open_orders", "check_lines"]
