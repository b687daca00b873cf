"""Reading the rebate ledger for its pages: a dealer's entries newest first with the
running balance, one entry explained in sentences with the records behind it, and the
manufacturer's balances per dealer (scoped to the user's regions), with its export.

Scope is applied here from the acting user's ``ChannelScope``: a dealer reads its own
rows only, a regional manager the dealers of its regions, a hospital nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Text, and_, case, cast, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from app.channel.models import Dealer, Region
from app.core.money import fen
from app.core.pagination import Page, keyset_page
from app.rebates.ledger import CREDIT_KINDS, ENTRY_REF, ORDER_REF, cny
from app.rebates.models import LEDGER_KINDS, PriceProtection, RebateClaim, RebatePeriod, RebatePolicy, SettlementRun
from app.rebates.models import RebateLedgerEntry as Entry

#: manufacturer roles that read ledgers, claims and price protection
LEDGER_VIEWERS = ("admin", "channel_manager", "regional_manager", "finance")

KIND_LABELS = {
    "accrued": _l("Accrued (estimate)"), "settled": _l("Settled (rebate)"), "adjusted": _l("Adjusted"), "used": _l("Used"),
    "released": _l("Given back"), "expired": _l("Expired"), "claim": _l("Claim approved"),
    "price_protection": _l("Price protection"),
}
PURPOSE_LABELS = {"offset": _l("invoice offset"), "free_goods": _l("free goods")}
assert set(KIND_LABELS) == set(LEDGER_KINDS)


# --- scope ------------------------------------------------------------------------------------

def _dealer_scope(stmt, dealer_column, scope):
    if scope.hospital_id is not None:
        return stmt.where(false())
    if scope.dealer_id is not None:
        return stmt.where(dealer_column == scope.dealer_id)
    clause = scope.regions_clause(Dealer.region_id)
    return stmt if clause is None else stmt.where(dealer_column.in_(select(Dealer.id).where(clause)))


def dealer_for(session: Session, scope, dealer_id: int) -> Dealer | None:
    """A dealer the scope reaches (a manufacturer page's ``_load``), else None."""
    return session.scalar(_dealer_scope(select(Dealer).where(Dealer.id == dealer_id), Dealer.id, scope))


def entry_for(session: Session, scope, entry_id: int) -> Entry | None:
    """One ledger row the scope may read, else None (the page answers 404)."""
    return session.scalar(_dealer_scope(select(Entry).where(Entry.id == entry_id), Entry.dealer_id, scope))


# --- a dealer's entries ---------------------------------------------------------------------------

@dataclass
class EntryFilter:
    kind: str = ""
    policy_id: int | None = None
    period_key: str = ""

    @classmethod
    def of(cls, args) -> "EntryFilter":
        from app.core.coerce import as_id

        kind = args.get("kind", "")
        period = (args.get("period") or "").strip()[:10]
        return cls(kind=kind if kind in KIND_LABELS else "", policy_id=as_id(args.get("policy")),
                   period_key=period)


def entries_page(session: Session, dealer_id: int, flt: EntryFilter, cursor: str | None) -> Page:
    """The dealer's rows newest first (keyset on the id), each with the balance after
    it (Σ of every non-accrued row up to it, whatever the filter shows)."""
    running = func.sum(case((Entry.kind != "accrued", Entry.amount), else_=0)).over(order_by=Entry.id)
    inner = (select(Entry.id, Entry.kind, Entry.amount, Entry.policy_id, Entry.period_key, Entry.ref_type, Entry.ref_id,
                    Entry.settlement_run_id, Entry.occurred_on, Entry.expires_on, Entry.explanation, Entry.note,
                    Entry.created_at, running.label("running"))
             .where(Entry.dealer_id == dealer_id).subquery())
    stmt = (select(inner, RebatePolicy.code.label("policy_code"), RebatePolicy.name.label("policy_name"))
            .outerjoin(RebatePolicy, RebatePolicy.id == inner.c.policy_id))
    if flt.kind:
        stmt = stmt.where(inner.c.kind == flt.kind)
    if flt.policy_id:
        stmt = stmt.where(inner.c.policy_id == flt.policy_id)
    if flt.period_key:
        stmt = stmt.where(inner.c.period_key == flt.period_key)
    return keyset_page(session, stmt, (inner.c.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


def filter_choices(session: Session, dealer_id: int) -> tuple[list, list]:
    """The policies and periods the dealer's rows name (for the filters)."""
    policies = list(session.execute(
        select(RebatePolicy.id, RebatePolicy.code, RebatePolicy.name)
        .where(RebatePolicy.id.in_(select(Entry.policy_id).where(Entry.dealer_id == dealer_id)))
        .order_by(RebatePolicy.code, RebatePolicy.version)))
    periods = list(session.scalars(select(Entry.period_key).where(Entry.dealer_id == dealer_id,
                                                                  Entry.period_key.is_not(None))
                                   .distinct().order_by(Entry.period_key.desc())))
    return policies, periods


def ref_labels(session: Session, rows) -> dict[tuple[str, int], str]:
    """(ref_type, ref_id) → the number people know the record by, for a page of rows."""
    wanted: dict[str, set[int]] = {}
    for r in rows:
        if r.ref_type and r.ref_id:
            wanted.setdefault(r.ref_type, set()).add(r.ref_id)
    out: dict[tuple[str, int], str] = {}
    from app.orders.models import Order

    numbered = {ORDER_REF: Order, "rebate_claims": RebateClaim, "price_protections": PriceProtection}
    for ref_type, ids in wanted.items():
        model = numbered.get(ref_type)
        if model is not None:
            out.update({(ref_type, i): n for i, n in session.execute(select(model.id, model.number)
                                                                    .where(model.id.in_(ids)))})
        elif ref_type == ENTRY_REF:
            out.update({(ref_type, i): _("Credit #%(id)d", id=i) for i in ids})
    return out


# --- one entry explained ---------------------------------------------------------------------

@dataclass(frozen=True)
class Link:
    """A record behind an entry: ``kind`` is order | claim | protection | entry |
    settlement | policy (the page makes the URL); ``label`` what to show."""

    kind: str
    id: int
    label: str


@dataclass
class Explanation:
    sentences: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    #: calculation details the sentences did not name, as (key, value)
    details: list[tuple[str, str]] = field(default_factory=list)
    #: for a credit: the rows that drew on it (used / released / expired)
    drawn: list = field(default_factory=list)
    #: for price protection: the lots behind it
    lots: list = field(default_factory=list)
    #: (ref_type, ref_id) → number, for the rows in ``drawn``
    refs: dict = field(default_factory=dict)


def _pct(rate) -> str:
    value = Decimal(str(rate)) * 100
    text_ = f"{value.quantize(Decimal('0.01')):f}".rstrip("0").rstrip(".")
    return f"{text_} %"


def _money(value) -> str | None:
    try:
        return cny(Decimal(str(value)))
    except Exception:
        return None


def _first(mapping: dict, *keys):
    for key in keys:
        value = mapping.get(key)
        if value not in (None, "", [], {}):
            return value
    return None


#: explanation keys the settlement sentences below already say
_SAID = {"tier", "tier_index", "tier_no", "rate", "base", "base_amount", "next_threshold", "next_from", "next_rate",
         "to_next", "next", "method", "policy", "policy_code", "policy_name", "period", "period_key", "lines",
         "line_count", "basis", "credit_entry_id", "purpose", "order", "credit_kind", "order_status", "expired_after",
         "credit_amount", "claim", "program", "claimed", "approved", "activity_on", "protection", "sku", "sku_code",
         "sku_name",
         "old_price", "new_price", "effective_on", "units", "lots", "demo", "kind"}


def _settlement_sentences(entry: Entry, x: dict, out: Explanation) -> None:
    policy = entry.policy
    if policy is not None:
        out.links.append(Link("policy", policy.id, f"{policy.code} {policy.name}"))
    base = entry.base_amount if entry.base_amount is not None else _first(x, "base", "base_amount")
    rate = entry.rate if entry.rate is not None else _first(x, "rate")
    tier = _first(x, "tier_no", "tier")
    if tier is None and entry.tier_index is not None:
        tier = entry.tier_index + 1
    period = entry.period_key or _first(x, "period", "period_key")
    head = {"accrued": _("Estimated for the open period %(period)s under %(policy)s.", period=period or "—",
                         policy=policy.name if policy else "—"),
            "settled": _("Settled for the period %(period)s under %(policy)s.", period=period or "—",
                         policy=policy.name if policy else "—"),
            "adjusted": _("An adjustment of the period %(period)s under %(policy)s: the settlement was run again "
                          "and its inputs had changed.", period=period or "—", policy=policy.name if policy else "—")}
    out.sentences.append(head[entry.kind])
    if base is not None and (money := _money(base)):
        if tier is not None and rate is not None:
            out.sentences.append(_("The base was %(base)s: tier %(tier)s was reached, paid at %(rate)s.", base=money,
                                   tier=tier, rate=_pct(rate)))
        elif rate is not None:
            out.sentences.append(_("The base was %(base)s, paid at %(rate)s.", base=money, rate=_pct(rate)))
        else:
            out.sentences.append(_("The base was %(base)s.", base=money))
    method = _first(x, "method") or (policy.method if policy else None)
    if method == "retroactive":
        out.sentences.append(_("Retroactive: the reached tier's rate applies to the whole base."))
    elif method == "incremental":
        out.sentences.append(_("Incremental: each band of the base is paid at its own rate."))
    nxt = x.get("next") if isinstance(x.get("next"), dict) else {}
    threshold = _first(x, "next_threshold", "next_from") or _first(nxt, "from", "threshold")
    next_rate = _first(x, "next_rate") or _first(nxt, "rate")
    to_next = _first(x, "to_next") or _first(nxt, "to_go", "missing")
    if threshold is not None and (money := _money(threshold)):
        if to_next is None and base is not None:
            try:
                to_next = Decimal(str(threshold)) - Decimal(str(base))
            except Exception:
                to_next = None
        sentence = _("The next tier starts at %(threshold)s", threshold=money)
        if next_rate is not None:
            sentence += _(" (paid at %(rate)s)", rate=_pct(next_rate))
        if to_next is not None and (gap := _money(to_next)):
            sentence += _(": %(gap)s more would reach it.", gap=gap)
        else:
            sentence += "."
        out.sentences.append(sentence)
    lines = x.get("lines")
    if isinstance(lines, list) and lines:
        out.sentences.append(_("%(n)d transaction lines make up the base.", n=len(lines)))
    elif isinstance(x.get("line_count"), int):
        out.sentences.append(_("%(n)d transaction lines make up the base.", n=x["line_count"]))
    if entry.settlement_run_id:
        out.links.append(Link("settlement", entry.settlement_run_id, _("Settlement run #%(id)d", id=entry.settlement_run_id)))


def _details(x: dict) -> list[tuple[str, str]]:
    out = []
    for key, value in x.items():
        if key in _SAID or isinstance(value, (list, dict)):
            continue
        out.append((str(key), str(value)))
    return out


def explain(session: Session, entry: Entry) -> Explanation:
    """The entry in sentences, with the records that produced it and (for a credit)
    the rows that drew on it."""
    x = entry.explanation if isinstance(entry.explanation, dict) else {}
    out = Explanation()
    labels = ref_labels(session, [entry])
    ref_label = labels.get((entry.ref_type, entry.ref_id)) if entry.ref_type else None
    amount = cny(abs(entry.amount))
    if entry.kind in ("accrued", "settled", "adjusted"):
        _settlement_sentences(entry, x, out)
        out.sentences.append(_("Amount: %(amount)s.", amount=cny(entry.amount)))
    elif entry.kind in ("used", "released"):
        purpose = PURPOSE_LABELS.get(x.get("purpose"), x.get("purpose") or "")
        order_label = ref_label or x.get("order") or "—"
        if entry.kind == "used":
            out.sentences.append(_("%(amount)s of the balance paid for the %(purpose)s of order %(order)s.",
                                   amount=amount, purpose=purpose, order=order_label))
        else:
            out.sentences.append(_("%(amount)s given back to the balance: order %(order)s was cancelled or refused "
                                   "before it shipped.", amount=amount, order=order_label))
    elif entry.kind == "expired":
        out.sentences.append(_("%(amount)s of the credit below was not used by its last day, %(day)s, and expired.",
                               amount=amount, day=x.get("expired_after") or "—"))
    elif entry.kind == "claim":
        out.sentences.append(_("Rebate claim %(number)s was approved for %(amount)s.", number=ref_label or "—",
                               amount=amount))
        if x.get("program"):
            out.sentences.append(_("Program: %(program)s.", program=x["program"]))
        if x.get("activity_on"):
            out.sentences.append(_("Activity day: %(day)s.", day=x["activity_on"]))
        if x.get("claimed") and x.get("claimed") != x.get("approved"):
            out.sentences.append(_("The dealer claimed %(claimed)s; the approver allowed %(approved)s.",
                                   claimed=_money(x["claimed"]) or x["claimed"], approved=amount))
    elif entry.kind == "price_protection":
        out.sentences.append(_(
            "Price protection %(number)s: the price of %(sku)s fell from %(old)s to %(new)s on %(day)s; %(units)s units "
            "you held then, bought at the old price, earn %(amount)s.", number=ref_label or "—",
            sku=x.get("sku_code") or "—", old=_money(x.get("old_price")) or "—", new=_money(x.get("new_price")) or "—",
            day=x.get("effective_on") or "—", units=x.get("units") or "—", amount=amount))
        out.lots = [lot for lot in x.get("lots", []) if isinstance(lot, dict)]
    if entry.kind in CREDIT_KINDS and entry.amount > 0:
        if entry.expires_on:
            out.sentences.append(_("Usable until %(day)s; what is left after that day expires.", day=entry.expires_on))
        else:
            out.sentences.append(_("This credit does not expire."))
        if entry.policy is not None:
            uses = [str(PURPOSE_LABELS[p]) for p in entry.policy.usable_as if p in PURPOSE_LABELS]
            out.sentences.append(_("It may pay for: %(uses)s.", uses=", ".join(uses) or "—"))
        out.drawn = drawn_on(session, entry)
        out.refs = ref_labels(session, out.drawn)
    if entry.note:
        out.sentences.append(entry.note)
    kind_of_ref = {ORDER_REF: "order", "rebate_claims": "claim", "price_protections": "protection", ENTRY_REF: "entry"}
    if entry.ref_type in kind_of_ref and entry.ref_id:
        out.links.append(Link(kind_of_ref[entry.ref_type], entry.ref_id, ref_label or f"#{entry.ref_id}"))
    credit_id = x.get("credit_entry_id")
    if isinstance(credit_id, int) and entry.ref_type != ENTRY_REF:
        out.links.append(Link("entry", credit_id, _("Credit #%(id)d it draws on", id=credit_id)))
    out.details = _details(x)
    return out


def drawn_on(session: Session, credit: Entry) -> list:
    """The rows that drew on (or gave back to) a credit, oldest first."""
    return list(session.execute(
        select(Entry.id, Entry.kind, Entry.amount, Entry.occurred_on, Entry.ref_type, Entry.ref_id)
        .where(Entry.dealer_id == credit.dealer_id,
               Entry.explanation["credit_entry_id"].astext == cast(credit.id, Text))
        .order_by(Entry.id)))


# --- the manufacturer's balances per dealer -----------------------------------------------------

@dataclass
class BalanceFilter:
    region_id: int | None = None
    search: str = ""

    @classmethod
    def of(cls, args) -> "BalanceFilter":
        from app.core.coerce import as_id

        return cls(region_id=as_id(args.get("region")), search=(args.get("q") or "").strip()[:40])


def _balances_stmt(scope, flt: BalanceFilter):
    closed = select(RebatePeriod.key).where(RebatePeriod.status == "closed")
    open_accrual = and_(Entry.kind == "accrued", or_(Entry.period_key.is_(None), Entry.period_key.not_in(closed)))
    agg = (select(Entry.dealer_id.label("dealer_id"),
                  func.sum(case((Entry.kind != "accrued", Entry.amount), else_=0)).label("balance"),
                  func.sum(case((and_(Entry.kind.in_(CREDIT_KINDS), Entry.amount > 0), Entry.amount), else_=0))
                  .label("credited"),
                  func.sum(case((Entry.kind.in_(("used", "released")), Entry.amount), else_=0)).label("used"),
                  func.sum(case((Entry.kind == "expired", Entry.amount), else_=0)).label("expired"),
                  func.sum(case((open_accrual, Entry.amount), else_=0)).label("estimated"),
                  func.max(Entry.occurred_on).label("last_on"))
           .group_by(Entry.dealer_id).subquery())
    area = aliased(Region)
    area_id = func.nullif(func.split_part(func.trim(Region.path, "/"), "/", 2), "").cast(Region.id.type)
    stmt = (select(Dealer.id, Dealer.code, Dealer.name, Region.name.label("region_name"),
                   Region.name_en.label("region_name_en"), area.name.label("area_name"), area.name_en.label("area_name_en"),
                   agg.c.balance, agg.c.credited, agg.c.used, agg.c.expired, agg.c.estimated, agg.c.last_on)
            .join(agg, agg.c.dealer_id == Dealer.id).join(Region, Region.id == Dealer.region_id)
            .outerjoin(area, area.id == area_id))
    stmt = _dealer_scope(stmt, Dealer.id, scope)
    if flt.region_id:
        subtree = select(Region.id).where(Region.path.startswith(
            select(Region.path).where(Region.id == flt.region_id).scalar_subquery()))
        stmt = stmt.where(Dealer.region_id.in_(subtree))
    if flt.search:
        like = f"%{flt.search}%"
        stmt = stmt.where(or_(Dealer.name.ilike(like), Dealer.code.ilike(like)))
    return stmt


def balances_page(session: Session, scope, flt: BalanceFilter, cursor: str | None) -> Page:
    """Dealers with rebate rows, by code: balance, credited, used, expired, estimate."""
    return keyset_page(session, _balances_stmt(scope, flt), (Dealer.code, Dealer.id), lambda r: (r.code, r.id), cursor,
                       entities=False)


def _export_rows(session, user, params):
    from app.channel.queries import ChannelScope
    from app.compliance.exports import walk_batches

    scope, flt = ChannelScope.of(user), BalanceFilter.of(params)
    for items in walk_batches(lambda cursor: balances_page(session, scope, flt, cursor)):
        for r in items:
            yield [r.area_name or r.region_name, r.region_name, r.code, r.name, fen(r.balance), fen(r.credited),
                   fen(-r.used), fen(-r.expired), fen(r.estimated), r.last_on]


def _register_export():
    from app.compliance.exports import register_export

    register_export("rebate_balances", _l("Rebate balances"), LEDGER_VIEWERS,
                    (_l("Area"), _l("Region"), _l("Dealer code"), _l("Dealer"), _l("Usable balance"), _l("Credited in all"),
                     _l("Used (net of given back)"), _l("Expired"), _l("Estimated (open periods)"), _l("Last movement")),
                    _export_rows, params=("region", "q"))


_register_export()


def settlement_period(session: Session, run_id: int) -> str | None:
    return session.scalar(select(SettlementRun.period_key).where(SettlementRun.id == run_id))


__all__ = ["LEDGER_VIEWERS", "KIND_LABELS", "PURPOSE_LABELS", "EntryFilter", "entries_page", "filter_choices",
           "ref_labels", "entry_for", "dealer_for", "explain", "Explanation", "Link", "drawn_on", "BalanceFilter",
           "balances_page"]
