"""Quotes (询价/报价): a dealer asks for prices (for a hospital, or for itself), the
manufacturer answers with prices from ``resolve_price`` — adjustable, but within the
price band — and a validity date; the dealer turns an answered, unexpired quote into an
order at those prices (through every gate of ``place_order``) or declines it."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.authorizations import sellability
from app.channel.models import Dealer, Hospital
from app.compliance.operations import reason
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.core.numbering import assign_number
from app.orders.models import Order, Quote, QuoteLine
from app.orders.operations import MAX_LINES, MAX_QUANTITY, OrderRefused, _quantity, place_order, quote_lines_for_order
from app.pricing import rules as price_rules
from app.pricing.queries import resolve_price


class QuoteRefused(OrderRefused):
    """Problems of a quote request or answer, as ``(line_index | None, field, message)``."""


def request_quote(session: Session, dealer: Dealer, user, lines: list[dict], hospital_id: int | None = None,
                  note: str | None = None, day: date | None = None) -> Quote:
    """Ask for prices. Lines name SKUs the dealer may sell (to the hospital, when named)."""
    day = day or shanghai_today()
    problems: list[tuple[int | None, str | None, str]] = []
    if hospital_id is not None and session.get(Hospital, hospital_id) is None:
        problems.append((None, "hospital_id", _("No such hospital.")))
        hospital_id = None
    note = (note or "").strip() or None
    if note and len(note) > 2000:
        problems.append((None, "note", _("Use at most %(n)d characters.", n=2000)))
    if not lines:
        problems.append((None, None, _("Add at least one line.")))
    seen: set[int] = set()
    for index, given in enumerate(lines[:MAX_LINES]):
        sku_id = given.get("sku_id")
        sku = session.get(Sku, sku_id) if isinstance(sku_id, int) and 0 < sku_id < 2**63 else None
        quantity = _quantity(given.get("quantity"))
        if sku is None:
            problems.append((index, "sku_id", _("Choose a product.")))
        elif sku.id in seen:
            problems.append((index, "sku_id", _("%(sku)s appears on another line already.", sku=sku.code)))
        else:
            seen.add(sku.id)
            problems += [(index, "sku_id", b.message) for b in sellability(session, dealer.id, sku.id, hospital_id, day)
                         if b.code not in ("hospital_inactive",)]
        if quantity is None or not 0 < quantity <= MAX_QUANTITY:
            problems.append((index, "quantity", _("Enter a whole number of units from 1 to %(n)d.", n=MAX_QUANTITY)))
    if problems:
        raise QuoteRefused(problems)
    quote = Quote(dealer_id=dealer.id, hospital_id=hospital_id, note=note, requested_by_id=user.id if user else None,
                  status="requested")
    assign_number(session, quote, "QT")
    for given in lines:
        quote.lines.append(QuoteLine(sku_id=given["sku_id"], quantity=_quantity(given["quantity"])))
    session.add(quote)
    session.flush()
    return quote


def suggested_prices(session: Session, quote: Quote, day: date | None = None) -> dict[int, object]:
    """``resolve_price``'s answer for each line (the answer form's prefilled prices)."""
    day = day or shanghai_today()
    return {line.id: resolve_price(session, quote.dealer_id, quote.hospital_id, line.sku_id, day) for line in quote.lines}


def _price(value) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    try:
        price = Decimal(str(value or "").strip().replace(",", "").lstrip("¥"))
    except (InvalidOperation, ValueError):
        return None
    return price if price.is_finite() else None


def answer_quote(session: Session, quote: Quote, user, prices: dict[int, object], valid_until,
                 day: date | None = None) -> Quote:
    """Answer with a price per line (``prices`` by line id) and a validity date. A price
    off the band is refused unless it is the tender award that applies."""
    day = day or shanghai_today()
    if quote.status != "requested":
        raise QuoteRefused([(None, None, _("This quote has been answered already."))])
    problems: list[tuple[int | None, str | None, str]] = []
    if isinstance(valid_until, str):
        try:
            valid_until = date.fromisoformat(valid_until.strip()) if valid_until.strip() else None
        except ValueError:
            problems.append((None, "valid_until", _("Enter a date as YYYY-MM-DD.")))
            valid_until = None
    if valid_until is None and not problems:
        problems.append((None, "valid_until", _("Say until when the prices are valid.")))
    elif valid_until is not None and valid_until < day:
        problems.append((None, "valid_until", _("The validity date has passed.")))
    suggested = suggested_prices(session, quote, day)
    chosen: dict[int, tuple[Decimal, str]] = {}
    for index, line in enumerate(quote.lines):
        price = _price(prices.get(line.id))
        if price is None or price <= 0 or price.as_tuple().exponent < -2 or price >= Decimal("1e12"):
            problems.append((index, "unit_price", _("Enter a price such as 1280.00.")))
            continue
        answer = suggested[line.id]
        awarded = answer.source in (price_rules.HOSPITAL_AWARD, price_rules.ALLIANCE_AWARD) and price == answer.price
        band = price_rules.band_check(price, answer.band)
        if band == "below_floor" and not awarded:
            problems.append((index, "unit_price", _("%(price)s is below the band floor of %(floor)s for %(sku)s.",
                                                    price=price, floor=answer.band.floor, sku=line.sku.code)))
        elif band == "above_ceiling" and not awarded:
            problems.append((index, "unit_price", _("%(price)s is above the band ceiling of %(ceiling)s for %(sku)s.",
                                                    price=price, ceiling=answer.band.ceiling, sku=line.sku.code)))
        note = answer.why if price == answer.price else _("Adjusted from %(price)s by %(user)s.",
                                                               price=answer.price, user=user.name)
        chosen[line.id] = (price, note[:300])
    if problems:
        raise QuoteRefused(problems)
    for line in quote.lines:
        line.unit_price, line.price_note = chosen[line.id]
    quote.valid_until = valid_until
    quote.status, quote.answered_by_id = "answered", user.id
    quote.answered_at = session.execute(select(func.now())).scalar()
    session.flush()
    return quote


def _lock_quote(session: Session, quote_id: int) -> Quote:
    """Row-lock the quote and give it back fresh from the database."""
    return session.scalars(select(Quote).where(Quote.id == quote_id).with_for_update(of=Quote)
                           .execution_options(populate_existing=True)).one()


def convert_quote(session: Session, quote: Quote, user, idempotency_key: str | None = None,
                  day: date | None = None) -> Order:
    """Order what the quote offers at its prices. Every gate of ``place_order`` runs again
    (authorization, qualifications, the band of the day)."""
    day = day or shanghai_today()
    quote = _lock_quote(session, quote.id)  # two clicks at once: the second finds it converted
    if quote.status == "converted" and quote.order_id:
        return session.get(Order, quote.order_id)
    if quote.status != "answered":
        raise QuoteRefused([(None, None, _("Only an answered quote can be ordered."))])
    if quote.valid_until is None or quote.valid_until < day:
        raise QuoteRefused([(None, None, _("This quote expired on %(day)s; ask for a new one.",
                                          day=quote.valid_until.isoformat() if quote.valid_until else "—"))])
    order = place_order(session, quote.dealer, user, quote_lines_for_order(quote), hospital_id=quote.hospital_id,
                        idempotency_key=idempotency_key, quote=quote, day=day,
                        note=_("From quote %(number)s.", number=quote.number))
    quote.status, quote.order_id = "converted", order.id
    session.flush()
    return order


def decline_quote(session: Session, quote: Quote, user, why: str | None = None) -> None:
    quote = _lock_quote(session, quote.id)
    if quote.status not in ("requested", "answered"):
        raise InvalidInput(None, _("This quote is closed already."))
    with reason(session, (why or "").strip() or None, "decline"):
        quote.status = "declined"
        session.flush()
