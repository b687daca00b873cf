"""特价申请: a dealer asks for prices below the band for one hospital (usually to win a
tender) — SKUs with a quantity cap each, a validity window and the tender documents as
evidence — and the approval chain (routed on the discount depth and the amount) decides.

* At submission each line records what the dealer pays today (``resolve_price`` on the
  first day of the window: its *reference price*) and the band floor. A line's discount
  is its depth below the floor, or below the reference price when the SKU has no band
  (``rules.discount_pct``); the request's ``max_discount_pct`` and ``total_amount``
  (Σ price × cap) are the facts the chain routes on.
* An approved request is honoured by order pricing only for its dealer, its hospital,
  its SKUs, inside its window and within each line's cap (``offers_for`` and
  ``check_caps``, called from ``app.orders.operations``). Consumption is never stored:
  it is Σ quantity of the order lines priced by the request line, in orders neither
  cancelled nor rejected — so a cancelled order gives its units back by itself. Placing
  an order row-locks the request lines it uses and counts again, so two orders racing
  for the last units of a cap cannot both get them.
* Past ``valid_until`` an approved request simply stops applying (shown as expired).

Reads are at the end of the module; writes flush and never commit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, false, func, or_, select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.authorizations import sellability
from app.channel.models import Dealer, Hospital
from app.compliance import approvals
from app.compliance.models import ApprovalRequest
from app.compliance.operations import reason
from app.core import coerce
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.core.money import MAX_AMOUNT, fen
from app.core.numbering import assign_number
from app.core.pagination import Page, keyset_page
from app.orders.models import Order, OrderLine
from app.orders.queries import may_sell_to
from app.pricing import rules
from app.pricing.models import PriceRequest, PriceRequestLine
from app.pricing.queries import resolve_price

SOURCE = "price_request_lines"
OPEN = ("in_review", "returned")
#: orders whose lines no longer hold units of a cap
RELEASED_ORDER_STATUSES = ("cancelled", "rejected")
#: dealer roles that may ask for, change and withdraw special prices
REQUESTERS = ("dealer_owner", "dealer_sales")
#: manufacturer roles that see special-price requests (a regional manager: its regions)
VIEWERS = ("admin", "channel_manager", "regional_manager", "finance")
MAX_LINES = 50
MAX_EVIDENCE = 10
MAX_QUANTITY = 1_000_000
#: the longest window a special price may run (a tender award runs one or two years)
MAX_WINDOW_DAYS = 3 * 366
STATUS_LABELS = {"in_review": _l("In review"), "returned": _l("Returned for changes"), "approved": _l("Approved"),
                 "rejected": _l("Rejected"), "withdrawn": _l("Withdrawn"), "expired": _l("Expired")}
STATUS_BADGES = {"in_review": "wait", "returned": "late", "approved": "on", "rejected": "off", "withdrawn": "off",
                 "expired": "off"}


class PriceRequestRefused(InvalidInput):
    """The request did not pass its checks; nothing was written. ``problems`` is a list
    of ``(line_index | None, field, message)`` like ``OrderRefused``: every problem at
    once, each next to its line or field."""

    def __init__(self, problems: list[tuple[int | None, str | None, str]]):
        super().__init__(problems[0][1], problems[0][2])
        self.problems = problems

    def for_line(self, index: int) -> list[tuple[str | None, str]]:
        return [(f, m) for i, f, m in self.problems if i == index]

    @property
    def fields(self) -> dict[str, str]:
        """The problems not tied to a line, by field ("form" for the request as a whole)."""
        out: dict[str, str] = {}
        for i, f, m in self.problems:
            if i is None:
                key = f or "form"
                out[key] = f"{out[key]} {m}" if key in out else m
        return out


def shown_status(status: str, valid_until: date, today: date) -> str:
    """The status as lists show it: an approved request past its window is expired."""
    return "expired" if status == "approved" and valid_until < today else status


# --- checking what the dealer typed ----------------------------------------------------------

@dataclass
class LineDraft:
    """One line as checked: the SKU, cap and price, and at submission the reference
    price, band floor and discount (None where the line could not be read)."""

    index: int
    sku: Sku | None = None
    quantity_cap: int | None = None
    requested_price: Decimal | None = None
    reference_price: Decimal | None = None
    band_floor: Decimal | None = None
    discount_pct: Decimal | None = None

    @property
    def amount(self) -> Decimal | None:
        if self.quantity_cap is None or self.requested_price is None:
            return None
        return fen(self.requested_price * self.quantity_cap)


@dataclass
class Draft:
    hospital: Hospital | None
    valid_from: date | None
    valid_until: date | None
    tender_ref: str | None
    reason: str | None
    lines: list[LineDraft]
    problems: list[tuple[int | None, str | None, str]]

    @property
    def total_amount(self) -> Decimal:
        return sum((line.amount or Decimal(0) for line in self.lines), Decimal(0))

    @property
    def max_discount_pct(self) -> Decimal:
        return max((line.discount_pct or Decimal("0.00") for line in self.lines), default=Decimal("0.00"))


def _read(problems, index, field, read):
    """``read()``'s value, or None with its InvalidInput recorded against ``field``."""
    try:
        return read()
    except InvalidInput as err:
        problems.append((index, field, err.message))
        return None


def _blank_row(raw: dict) -> bool:
    return not any(str(raw.get(k) or "").strip() for k in ("sku_id", "quantity_cap", "requested_price"))


def check_request(session: Session, dealer: Dealer, values: dict, hospital: Hospital | None = None,
                  exclude_id: int | None = None, today: date | None = None) -> Draft:
    """Check a request without writing anything (the form's "check" and ``submit``
    both use it): hospital (one the dealer is authorized for), window, tender reference,
    reason and every line — each SKU sellable by the dealer to the hospital, its cap,
    its price below what the dealer pays today — with the reference price, band floor
    and discount of each line. ``hospital`` is given when it is fixed (a resubmission)."""
    today = today or shanghai_today()
    problems: list[tuple[int | None, str | None, str]] = []
    if dealer.status != "active":
        problems.append((None, None, _("%(dealer)s is not active.", dealer=dealer.name)))
    if hospital is None:
        hospital_id = _read(problems, None, "hospital_id", lambda: coerce.ident(values, "hospital_id", required=True))
        hospital = session.get(Hospital, hospital_id) if hospital_id else None
        if hospital_id and hospital is None:
            problems.append((None, "hospital_id", _("Choose a hospital from the list.")))
    if hospital is not None and hospital.status != "active":
        problems.append((None, "hospital_id", _("%(name)s is not an active hospital.", name=hospital.name)))
        hospital = None
    valid_from = _read(problems, None, "valid_from", lambda: coerce.day(values, "valid_from", required=True))
    valid_until = _read(problems, None, "valid_until", lambda: coerce.day(values, "valid_until", required=True))
    if valid_from is not None and valid_from < today:
        problems.append((None, "valid_from", _("A special price cannot start before today.")))
    if valid_from is not None and valid_until is not None:
        if valid_until < valid_from:
            problems.append((None, "valid_until", _("The end date is before the start date.")))
        elif (valid_until - valid_from).days >= MAX_WINDOW_DAYS:
            problems.append((None, "valid_until", _("A special price runs at most three years.")))
    start = valid_from if valid_from is not None and valid_from >= today else today
    if hospital is not None and not may_sell_to(session, dealer.id, hospital.id, start):
        problems.append((None, "hospital_id", _("On %(day)s you are not authorized to sell to %(name)s.",
                                                day=start.isoformat(), name=hospital.name)))
        hospital = None
    tender_ref = _read(problems, None, "tender_ref", lambda: coerce.text(values, "tender_ref", max_length=200))
    why = _read(problems, None, "reason", lambda: coerce.text(values, "reason", required=True, max_length=2000))

    raw_lines = [raw for raw in (values.get("lines") or [])[:MAX_LINES + 1]]
    lines: list[LineDraft] = []
    seen: dict[int, int] = {}
    for index, raw in enumerate(raw_lines):
        if _blank_row(raw):
            continue
        line = LineDraft(index)
        lines.append(line)
        sku_id = _read(problems, index, "sku_id", lambda: coerce.ident(raw, "sku_id", required=True))
        line.sku = session.get(Sku, sku_id) if sku_id else None
        if sku_id and line.sku is None:
            problems.append((index, "sku_id", _("Choose a product from the list.")))
        line.quantity_cap = _read(problems, index, "quantity_cap",
                                  lambda: coerce.whole(raw, "quantity_cap", 1, MAX_QUANTITY, required=True))
        line.requested_price = _read(problems, index, "requested_price",
                                     lambda: coerce.money(raw, "requested_price", required=True))
        if line.requested_price is not None and line.requested_price >= MAX_AMOUNT:
            problems.append((index, "requested_price", _("Enter an amount such as 1280.00.")))
            line.requested_price = None
        if line.sku is None:
            continue
        if line.sku.id in seen:
            problems.append((index, "sku_id", _("%(sku)s is listed twice.", sku=line.sku.code)))
            continue
        seen[line.sku.id] = index
        if hospital is None:
            continue
        for block in sellability(session, dealer.id, line.sku.id, hospital.id, start):
            if block.code not in ("dealer_inactive", "hospital_inactive"):
                problems.append((index, "sku_id", block.message))
        answer = resolve_price(session, dealer.id, hospital.id, line.sku.id, start)
        line.reference_price = answer.price
        line.band_floor = answer.band.floor if answer.band is not None else None
        base = line.reference_price if line.reference_price is not None else line.band_floor
        if base is None:
            problems.append((index, "sku_id", _("No price and no price band apply to %(sku)s at this hospital: there "
                                                "is nothing to measure a special price against.", sku=line.sku.code)))
        elif line.requested_price is not None:
            if line.requested_price >= base:
                problems.append((index, "requested_price", _(
                    "%(price)s is not below what you pay today (%(base)s): no special price is needed.",
                    price=line.requested_price, base=base)))
            line.discount_pct = rules.discount_pct(line.requested_price, line.band_floor, line.reference_price)
        if line.amount is not None and line.amount >= MAX_AMOUNT:
            problems.append((index, "quantity_cap", _("Too large an amount: split the request.")))
    if not lines:
        problems.append((None, "lines", _("Add at least one product with its quantity and price.")))
    elif len(lines) > MAX_LINES:
        problems.append((None, "lines", _("At most %(n)d products in one request.", n=MAX_LINES)))
    draft = Draft(hospital, valid_from, valid_until, tender_ref, why, lines, problems)
    if draft.total_amount >= MAX_AMOUNT:
        problems.append((None, "lines", _("Too large an amount: split the request.")))
    if hospital is not None and valid_from is not None and valid_until is not None and seen:
        for number, sku_id in _open_overlaps(session, dealer.id, hospital.id, list(seen), valid_from, valid_until,
                                             exclude_id):
            sku = session.get(Sku, sku_id)
            problems.append((seen[sku_id], "sku_id", _("%(sku)s is already asked for in %(number)s, still open: change "
                                                       "or withdraw that request.", sku=sku.code, number=number)))
    return draft


def _open_overlaps(session: Session, dealer_id: int, hospital_id: int, sku_ids: list[int], start: date, until: date,
                   exclude_id: int | None) -> list[tuple[str, int]]:
    """(number, SKU id) of the dealer's open requests for the hospital asking for any of
    these SKUs in an overlapping window."""
    stmt = (select(PriceRequest.number, PriceRequestLine.sku_id)
            .join(PriceRequestLine, PriceRequestLine.price_request_id == PriceRequest.id)
            .where(PriceRequest.dealer_id == dealer_id, PriceRequest.hospital_id == hospital_id,
                   PriceRequest.status.in_(OPEN), PriceRequestLine.sku_id.in_(sku_ids),
                   PriceRequest.valid_from <= until, PriceRequest.valid_until >= start)
            .order_by(PriceRequest.id, PriceRequestLine.sku_id))
    if exclude_id is not None:
        stmt = stmt.where(PriceRequest.id != exclude_id)
    return list(session.execute(stmt))


# --- evidence ------------------------------------------------------------------------------------

def _check_evidence(uploads, problems) -> list[tuple[str, bytes, str, str]]:
    """The uploads as (name, bytes, extension, content type), each known by its magic
    bytes (PDF, JPEG, PNG), never by its name; problems name the file."""
    from app.channel.operations import check_scan

    checked = []
    for name, data in uploads or []:
        label = (name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:100] or _("the file")
        try:
            ext, content_type = check_scan((name, data))
        except InvalidInput as err:
            problems.append((None, "evidence", f"{label}: {err.message}"))
            continue
        checked.append((name, data, ext, content_type))
    return checked


def _store_evidence(session: Session, request: PriceRequest, files, user) -> list[int]:
    """Each file kept as an immutable document naming the request and the dealer (so the
    dealer's users and whoever may see the request download it)."""
    from app.compliance.uploads import store_upload

    return [store_upload(session, name, data, ext, content_type, ("price_requests", request.id), request.dealer_id,
                         user).id for name, data, ext, content_type in files]


# --- writes ------------------------------------------------------------------------------------

def _facts(request: PriceRequest) -> dict:
    return {"discount_pct": request.max_discount_pct, "amount": request.total_amount}


def _fill(request: PriceRequest, draft: Draft) -> None:
    request.valid_from, request.valid_until = draft.valid_from, draft.valid_until
    request.tender_ref, request.reason = draft.tender_ref, draft.reason
    request.total_amount, request.max_discount_pct = draft.total_amount, draft.max_discount_pct
    for line in draft.lines:
        request.lines.append(PriceRequestLine(sku_id=line.sku.id, quantity_cap=line.quantity_cap,
                                              requested_price=line.requested_price,
                                              reference_price=line.reference_price, band_floor=line.band_floor))


def submit_price_request(session: Session, dealer: Dealer, user, values: dict, uploads=None,
                         today: date | None = None) -> PriceRequest:
    """Ask for special prices: ``values`` hospital_id, valid_from, valid_until, tender_ref,
    reason and lines [{sku_id, quantity_cap, requested_price}] (typed values or form text),
    ``uploads`` [(file name, bytes)] — at least one tender document. Every problem is
    reported at once (``PriceRequestRefused``) and nothing is written; otherwise the
    request goes to the ``price_request`` chain with its discount and amount."""
    draft = check_request(session, dealer, values, today=today)
    files = _check_evidence(uploads, draft.problems)
    if not uploads:
        draft.problems.append((None, "evidence", _("Attach the tender documents (PDF, JPEG or PNG).")))
    elif len(uploads) > MAX_EVIDENCE:
        draft.problems.append((None, "evidence", _("At most %(n)d files.", n=MAX_EVIDENCE)))
    if draft.problems:
        raise PriceRequestRefused(draft.problems)
    request = PriceRequest(dealer_id=dealer.id, hospital_id=draft.hospital.id, status="in_review",
                           requested_by_id=getattr(user, "id", None))
    assign_number(session, request, "SP")
    _fill(request, draft)
    session.add(request)
    session.flush()
    request.evidence_ids = _store_evidence(session, request, files, user)
    approval = approvals.submit(
        session, "price_request",
        _("Special price %(number)s: %(dealer)s at %(hospital)s", number=request.number, dealer=dealer.name,
          hospital=draft.hospital.name),
        user, _facts(request), entity=("price_requests", request.id), region_id=dealer.region_id)
    request.approval_request_id = approval.id
    session.flush()
    return request


def may_act(request: PriceRequest, user) -> bool:
    """The dealer's requester, or an owner of the same dealer (a colleague who left)."""
    return getattr(user, "portal", None) == "dealer" and user.dealer_id == request.dealer_id and (
        user.id == request.requested_by_id or user.has_role("dealer_owner"))


def _approval(session: Session, request: PriceRequest) -> ApprovalRequest | None:
    return session.get(ApprovalRequest, request.approval_request_id) if request.approval_request_id else None


def lock_request(session: Session, request_id: int) -> PriceRequest | None:
    """Row-lock a request and read it fresh (two colleagues acting on it are served in
    turn; the second sees what the first did)."""
    return session.scalars(select(PriceRequest).where(PriceRequest.id == request_id).with_for_update(of=PriceRequest)
                           .execution_options(populate_existing=True)).first()


def resubmit_price_request(session: Session, request: PriceRequest, user, values: dict, uploads=None,
                           today: date | None = None) -> PriceRequest:
    """A request returned for changes, changed (lines, window, tender reference, reason;
    more evidence may be added) and sent along its chain again as a new version."""
    request = lock_request(session, request.id)
    if request.status != "returned":
        raise PriceRequestRefused([(None, None, _("Only a request returned for changes can be submitted again."))])
    if not may_act(request, user):
        raise PriceRequestRefused([(None, None, _("Only the requester or the dealer's owner can change this request."))])
    dealer = session.get(Dealer, request.dealer_id)
    draft = check_request(session, dealer, values, hospital=request.hospital, exclude_id=request.id, today=today)
    files = _check_evidence(uploads, draft.problems)
    if len(request.evidence_ids or []) + len(files) > MAX_EVIDENCE:
        draft.problems.append((None, "evidence", _("At most %(n)d files.", n=MAX_EVIDENCE)))
    if draft.problems:
        raise PriceRequestRefused(draft.problems)
    request.lines.clear()
    session.flush()  # the old lines go before the new ones (one line per SKU)
    _fill(request, draft)
    session.flush()
    if files:
        request.evidence_ids = list(request.evidence_ids or []) + _store_evidence(session, request, files, user)
    approval = _approval(session, request)
    # the engine lets only the requester resubmit; an owner acting for a colleague who left
    # is still recorded as the actor of every change (the audit context is the signed-in user)
    approvals.resubmit(session, approval, approval.requester if approval.requester_id != user.id else user,
                       _facts(request))
    session.flush()
    return request


def withdraw_price_request(session: Session, request: PriceRequest, user, why: str | None) -> None:
    """The dealer takes back a request still in review or returned; its approval request
    is withdrawn with it."""
    request = lock_request(session, request.id)
    if request.status not in OPEN:
        raise InvalidInput(None, _("Only a request in review or returned for changes can be withdrawn."))
    if not may_act(request, user):
        raise InvalidInput(None, _("Only the requester or the dealer's owner can withdraw this request."))
    why = (why or "").strip()[:500] or None
    approval = _approval(session, request)
    if approval is not None and approval.status in OPEN and approval.requester_id == user.id:
        approvals.withdraw(session, approval, user, why or "")  # the engine's hook marks the request
    else:
        with reason(session, why, action="withdraw"):
            if approval is not None and approval.status in OPEN:
                approval.status = "withdrawn"
                approval.decided_at = session.execute(select(func.now())).scalar()
            request.status = "withdrawn"
            session.flush()


def _request_of(session: Session, approval) -> PriceRequest | None:
    if approval.entity_type != "price_requests" or not approval.entity_id:
        return None  # a request submitted without its record (an old demo sample)
    return session.get(PriceRequest, int(approval.entity_id))


def price_request_decided(session: Session, approval) -> None:
    """The chain approved or rejected the request (a request withdrawn meanwhile stays so)."""
    request = _request_of(session, approval)
    if request is not None and request.status in OPEN and approval.status in ("approved", "rejected"):
        request.status = approval.status
        session.flush()


def price_request_changed(session: Session, approval) -> None:
    """The request was returned for changes, withdrawn or submitted again: follow it."""
    request = _request_of(session, approval)
    if request is not None and request.status in OPEN and approval.status in ("in_review", "returned", "withdrawn"):
        request.status = approval.status
        session.flush()


# --- order pricing -----------------------------------------------------------------------------

def _consumed(line_ids):
    """SQL: units used per request line (order lines priced by it, orders still open)."""
    return (select(OrderLine.price_source_id.label("line_id"), func.sum(OrderLine.quantity).label("used"))
            .join(Order, Order.id == OrderLine.order_id)
            .where(OrderLine.price_source_type == SOURCE, OrderLine.price_source_id.in_(line_ids),
                   Order.status.not_in(RELEASED_ORDER_STATUSES))
            .group_by(OrderLine.price_source_id))


def consumption(session: Session, line_ids) -> dict[int, int]:
    """Units used of each request line's cap."""
    line_ids = list(line_ids)
    if not line_ids:
        return {}
    return {line_id: int(used) for line_id, used in session.execute(_consumed(line_ids))}


def offers_for(session: Session, dealer_id: int, hospital_id: int | None, sku_id: int, day: date) -> list[rules.SpecialPrice]:
    """The approved special prices the dealer has for the SKU at the hospital on ``day``,
    with what is used of each cap. None without a hospital: a special price is only ever
    for the hospital it was asked for."""
    if hospital_id is None:
        return []
    rows = list(session.execute(
        select(PriceRequestLine.id, PriceRequest.id, PriceRequest.number, PriceRequestLine.requested_price,
               PriceRequestLine.quantity_cap, PriceRequest.valid_until)
        .join(PriceRequest, PriceRequest.id == PriceRequestLine.price_request_id)
        .where(PriceRequest.dealer_id == dealer_id, PriceRequest.hospital_id == hospital_id,
               PriceRequest.status == "approved", PriceRequest.valid_from <= day, PriceRequest.valid_until >= day,
               PriceRequestLine.sku_id == sku_id)))
    used = consumption(session, [r[0] for r in rows])
    return [rules.SpecialPrice(line_id, request_id, number, price, cap, used.get(line_id, 0), until)
            for line_id, request_id, number, price, cap, until in rows]


def special_price_note(offer: rules.SpecialPrice, quantity: int | None) -> str:
    """The order line's price note: which request, until when, and what is left after it."""
    return _("Special price %(number)s, valid until %(day)s: %(left)d of %(cap)d units left after this line.",
             number=offer.number, day=offer.valid_until.isoformat(), left=max(offer.left - (quantity or 0), 0),
             cap=offer.cap)[:300]


def cap_exceeded(offer: rules.SpecialPrice, sku_code: str) -> str:
    return _("Special price %(number)s covers only %(left)d more units of %(sku)s (cap %(cap)d, %(used)d used): order "
             "at most %(left)d on this line; once the cap is used up the regular price applies again.",
             number=offer.number, left=offer.left, sku=sku_code, cap=offer.cap, used=offer.used)


def check_caps(session: Session, lines, lock: bool = False) -> list[tuple[int, str, str]]:
    """(line index, field, message) for each order line priced by a special price whose
    cap cannot take it (with what else the order and other orders already use). With
    ``lock`` the request lines are row-locked first, in id order, and counted after the
    lock is granted, so a racing order's committed lines are seen: ``place_order`` does
    this before it writes."""
    by_source: dict[int, list] = {}
    for line in lines:
        if line.price_source and line.price_source[0] == SOURCE and line.quantity:
            by_source.setdefault(int(line.price_source[1]), []).append(line)
    if not by_source:
        return []
    ids = sorted(by_source)
    stmt = (select(PriceRequestLine.id, PriceRequestLine.quantity_cap, PriceRequest.number)
            .join(PriceRequest, PriceRequest.id == PriceRequestLine.price_request_id)
            .where(PriceRequestLine.id.in_(ids)).order_by(PriceRequestLine.id))
    if lock:
        stmt = stmt.with_for_update(of=PriceRequestLine)
    caps = {line_id: (cap, number) for line_id, cap, number in session.execute(stmt)}
    used = consumption(session, ids)
    problems = []
    for line_id, order_lines in by_source.items():
        cap, number = caps.get(line_id, (0, ""))
        wanted = sum(line.quantity for line in order_lines)
        if used.get(line_id, 0) + wanted > cap:
            first = order_lines[0]
            offer = rules.SpecialPrice(line_id, 0, number, first.unit_price or Decimal(0), cap, used.get(line_id, 0),
                                       date.max)
            problems.append((first.index, "quantity", cap_exceeded(offer, first.sku.code if first.sku else "")))
    return problems


# --- reads ------------------------------------------------------------------------------------------

def _scoped(stmt, scope):
    """A dealer sees its own requests; a regional manager those of dealers in its
    regions; a hospital none."""
    if scope.hospital_id is not None:
        return stmt.where(false())
    if scope.dealer_id is not None:
        return stmt.where(PriceRequest.dealer_id == scope.dealer_id)
    clause = scope.regions_clause(Dealer.region_id)
    return stmt if clause is None else stmt.where(clause)


@dataclass(frozen=True)
class RequestFilter:
    #: a status as shown (``expired`` included)
    status: str = ""
    #: a dealer's name or code (manufacturer list)
    dealer: str = ""
    hospital_id: int | None = None
    #: the request number, or its start
    search: str = ""


@dataclass(frozen=True)
class RequestRow:
    """A request as the lists show it, with its units capped and used over its lines."""

    id: int
    number: str
    status: str
    valid_from: date
    valid_until: date
    total_amount: Decimal
    max_discount_pct: Decimal
    tender_ref: str | None
    created_at: object
    approval_request_id: int | None
    dealer_code: str
    dealer_name: str
    hospital_code: str
    hospital_name: str
    capped: int = 0
    used: int = 0
    line_count: int = 0


def _usage(session: Session, request_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """(units capped, units used, lines) per request, for one page of requests: two
    grouped queries on the page's ids (a correlated sum per row let a generic plan scan
    every priced order line once per row: 2 s for a dealer with 1,000 requests)."""
    if not request_ids:
        return {}
    caps = {rid: (int(capped), int(n)) for rid, capped, n in session.execute(
        select(PriceRequestLine.price_request_id, func.sum(PriceRequestLine.quantity_cap), func.count())
        .where(PriceRequestLine.price_request_id.in_(request_ids)).group_by(PriceRequestLine.price_request_id))}
    used = dict(session.execute(
        select(PriceRequestLine.price_request_id, func.sum(OrderLine.quantity))
        .join(OrderLine, (OrderLine.price_source_type == SOURCE) & (OrderLine.price_source_id == PriceRequestLine.id))
        .join(Order, Order.id == OrderLine.order_id)
        .where(PriceRequestLine.price_request_id.in_(request_ids), Order.status.not_in(RELEASED_ORDER_STATUSES))
        .group_by(PriceRequestLine.price_request_id)).all())
    return {rid: (caps.get(rid, (0, 0))[0], int(used.get(rid) or 0), caps.get(rid, (0, 0))[1]) for rid in request_ids}


def requests_page(session: Session, scope, cursor: str | None, f: RequestFilter = RequestFilter(),
                  today: date | None = None) -> Page:
    """Requests the scope may see, newest first, as ``RequestRow``s with each request's
    units capped and used (Σ over its lines)."""
    today = today or shanghai_today()
    stmt = (select(PriceRequest.id, PriceRequest.number, PriceRequest.status, PriceRequest.valid_from,
                   PriceRequest.valid_until, PriceRequest.total_amount, PriceRequest.max_discount_pct,
                   PriceRequest.tender_ref, PriceRequest.created_at, PriceRequest.approval_request_id,
                   Dealer.code.label("dealer_code"), Dealer.name.label("dealer_name"),
                   Hospital.code.label("hospital_code"), Hospital.name.label("hospital_name"))
            .join(Dealer, Dealer.id == PriceRequest.dealer_id).join(Hospital, Hospital.id == PriceRequest.hospital_id))
    stmt = _scoped(stmt, scope)
    if f.status == "expired":
        stmt = stmt.where(PriceRequest.status == "approved", PriceRequest.valid_until < today)
    elif f.status == "approved":
        stmt = stmt.where(PriceRequest.status == "approved", PriceRequest.valid_until >= today)
    elif f.status in STATUS_LABELS:
        stmt = stmt.where(PriceRequest.status == f.status)
    if dealer := f.dealer.strip()[:60]:
        stmt = stmt.where(or_(Dealer.name.ilike(f"%{dealer}%"), Dealer.code.ilike(f"%{dealer}%")))
    if f.hospital_id:
        stmt = stmt.where(PriceRequest.hospital_id == f.hospital_id)
    if search := f.search.strip().upper()[:40]:
        stmt = stmt.where(PriceRequest.number.contains(search))
    page = keyset_page(session, stmt, (PriceRequest.id,), lambda r: (r.id,), cursor, entities=False, descending=True)
    usage = _usage(session, [r.id for r in page.items])
    page.items = [RequestRow(**r._mapping, capped=usage[r.id][0], used=usage[r.id][1], line_count=usage[r.id][2])
                  for r in page.items]
    return page


def request_hospitals(session: Session, scope) -> list:
    """The hospitals the scope's requests name (what the list's hospital filter offers:
    a few dozen, however many hospitals there are); rows of id, code, name."""
    named = _scoped(select(PriceRequest.hospital_id).join(Dealer, Dealer.id == PriceRequest.dealer_id), scope)
    return list(session.execute(select(Hospital.id, Hospital.code, Hospital.name)
                                .where(Hospital.id.in_(named.distinct())).order_by(Hospital.name)))


def request_for(session: Session, scope, request_id: int) -> PriceRequest | None:
    """One request, or None when missing or out of ``scope`` (the page answers 404)."""
    stmt = _scoped(select(PriceRequest).join(Dealer, Dealer.id == PriceRequest.dealer_id), scope)
    return session.scalars(stmt.where(PriceRequest.id == request_id)).unique().one_or_none()


@dataclass(frozen=True)
class LineUse:
    line: PriceRequestLine
    used: int
    #: the orders that used it: rows of order id, number, status, submitted_at, quantity, unit price
    orders: list

    @property
    def left(self) -> int:
        return max(self.line.quantity_cap - self.used, 0)

    @property
    def discount_pct(self) -> Decimal:
        return rules.discount_pct(self.line.requested_price, self.line.band_floor, self.line.reference_price)


def line_uses(session: Session, request: PriceRequest) -> list[LineUse]:
    """Each line with what orders used of its cap and which orders (cancelled and
    rejected ones are listed too, marked by their status, but use nothing)."""
    ids = [line.id for line in request.lines]
    orders: dict[int, list] = {i: [] for i in ids}
    if ids:
        released = case((Order.status.in_(RELEASED_ORDER_STATUSES), True), else_=False)
        for row in session.execute(
                select(OrderLine.price_source_id.label("line_id"), Order.id, Order.number, Order.status,
                       Order.submitted_at, OrderLine.quantity, OrderLine.unit_price, released.label("released"))
                .join(Order, Order.id == OrderLine.order_id)
                .where(OrderLine.price_source_type == SOURCE, OrderLine.price_source_id.in_(ids))
                .order_by(Order.id)):
            orders[row.line_id].append(row)
    used = consumption(session, ids)
    return [LineUse(line, used.get(line.id, 0), orders[line.id]) for line in request.lines]


def evidence_of(session: Session, request: PriceRequest) -> list:
    from app.compliance.models import Document

    ids = list(request.evidence_ids or [])
    if not ids:
        return []
    found = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def may_see_evidence(session: Session, user, document) -> bool:
    """Whether a manufacturer user may download a request's evidence: whoever may open
    the request (``app.compliance.queries.document_for`` asks)."""
    from app.channel.queries import ChannelScope

    if not user.has_role(*VIEWERS) or not document.entity_id or not str(document.entity_id).isdigit():
        return False
    return request_for(session, ChannelScope.of(user), int(document.entity_id)) is not None


def window_default(today: date | None = None) -> tuple[date, date]:
    """A new request's suggested window: from today, six months (a tender's first half-year)."""
    today = today or shanghai_today()
    return today, today + timedelta(days=180)
