"""The rebate ledger pages' common part, shared by the dealer portal (its own ledger)
and the manufacturer portal (one dealer's ledger): the figures at the head, the
filtered entries with their running balance, and one entry explained."""
from __future__ import annotations

from flask import current_app, request

from app.core.db import db
from app.core.htmx import render_page
from app.core.i18n import shanghai_today
from app.rebates import ledger, ledger_queries as lq

#: ledger ref_type → the kind of page it links to (see templates/rebates/_links.html)
REF_KINDS = {"orders": "order", "rebate_claims": "claim", "price_protections": "protection",
             "rebate_ledger_entries": "entry"}


def has_page(endpoint: str) -> bool:
    """Whether a page exists in this build (another area's page, before it is merged)."""
    return endpoint in current_app.view_functions


def labels() -> dict:
    return {"kind_labels": lq.KIND_LABELS, "purpose_labels": lq.PURPOSE_LABELS, "ref_kinds": REF_KINDS,
            "has_page": has_page}


def ledger_page(template: str, dealer, **extra):
    """A dealer's ledger: figures, filters and entries (the ``results`` block alone for
    an htmx request)."""
    flt = lq.EntryFilter.of(request.args)
    page = lq.entries_page(db.session, dealer.id, flt, request.args.get("after"))
    policies, periods = lq.filter_choices(db.session, dealer.id)
    return render_page(template, block="results", dealer=dealer, page=page, flt=flt, policies=policies,
                       periods=periods, refs=lq.ref_labels(db.session, page.items),
                       figures=ledger.balances(db.session, dealer.id, shanghai_today()), **labels(), **extra)


def entry_page(template: str, entry, **extra):
    return render_page(template, entry=entry, why=lq.explain(db.session, entry), **labels(), **extra)
