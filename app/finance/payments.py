"""Payments (回款): recorded by hand, or imported from a bank statement
(``app.finance.bank_import``), identified to a dealer, and matched automatically where the
rules are sure (``matching.auto_match``). Functions validate, change and flush; they
never commit. Refusals are ``InvalidInput`` naming the form field."""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.channel.models import Dealer
from app.core import coerce
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.core.numbering import assign_number
from app.finance.matching import auto_match, lock_payment
from app.finance.models import Payment

METHODS = ("transfer", "acceptance_bill", "other")
#: how far back a payment may be dated (a bank statement of the last years)
OLDEST_DAYS = 3 * 366


def _received_on(values: dict, day: date) -> date:
    received_on = coerce.day(values, "received_on", required=True)
    if received_on > day:
        raise InvalidInput("received_on", _("The day received cannot be in the future."))
    if received_on < day - timedelta(days=OLDEST_DAYS):
        raise InvalidInput("received_on", _("Record payments of the last three years."))
    return received_on


def bank_ref_taken(session: Session, bank_ref: str) -> str | None:
    """The number of the payment that already carries this bank reference (流水号)."""
    return session.scalar(select(Payment.number).where(Payment.bank_ref == bank_ref))


def record_payment(session: Session, user, values: dict, day: date | None = None) -> Payment:
    """Record money received from a dealer (amount, day, bank reference, payer, remark)
    and match it automatically where the rules are sure."""
    day = day or shanghai_today()
    dealer_id = coerce.ident(values, "dealer_id", required=True)
    dealer = session.get(Dealer, dealer_id)
    if dealer is None:
        raise InvalidInput("dealer_id", _("Choose the dealer who paid."))
    received_on = _received_on(values, day)
    amount = coerce.money(values, "amount", required=True)
    bank_ref = coerce.text(values, "bank_ref", max_length=60)
    if bank_ref and (number := bank_ref_taken(session, bank_ref)):
        raise InvalidInput("bank_ref", _("This bank reference was already recorded as payment %(number)s.", number=number))
    method = coerce.choice(values, "method", METHODS, default="transfer")
    payment = Payment(dealer_id=dealer.id, received_on=received_on, amount=amount, bank_ref=bank_ref,
                      reference=coerce.text(values, "reference", max_length=300),
                      payer_name=coerce.text(values, "payer_name", max_length=200) or dealer.name,
                      payer_account=coerce.text(values, "payer_account", max_length=40), method=method,
                      source="manual", recorded_by_id=getattr(user, "id", None), applied_amount=Decimal("0"),
                      status="unapplied")
    assign_number(session, payment, "RC", day=received_on)
    session.add(payment)
    session.flush()
    auto_match(session, payment, user, day)
    return payment


def assign_dealer(session: Session, payment: Payment, dealer_id, user, day: date | None = None) -> Payment:
    """Name the dealer of a payment whose payer the import could not identify (or
    correct a wrong one before anything is matched), then match it automatically."""
    payment = lock_payment(session, payment.id)
    dealer_id = coerce.ident({"dealer_id": dealer_id}, "dealer_id", required=True)
    dealer = session.get(Dealer, dealer_id)
    if dealer is None:
        raise InvalidInput("dealer_id", _("Choose the dealer who paid."))
    if payment.applied_amount != 0:
        raise InvalidInput("dealer_id", _("The payment is matched to invoices: reverse the matches first."))
    payment.dealer_id = dealer.id
    session.flush()
    auto_match(session, payment, user, day)
    return payment


# --- identifying the payer of a bank statement line -----------------------------------------------

_FULL_WIDTH = str.maketrans("（）", "()")


def normal_name(name: str | None) -> str:
    """A company name as compared: no spaces, half-width brackets."""
    return re.sub(r"\s+", "", (name or "").translate(_FULL_WIDTH))


def normal_account(account: str | None) -> str:
    """A bank account number as compared: its digits only."""
    return re.sub(r"\D", "", account or "")


class PayerDirectory:
    """Dealers by bank account and by name, loaded once per import: a statement line is
    the dealer whose account (dealers.bank_account) is the payer's account, else the
    dealer whose name is the payer's name; two dealers sharing one is no answer."""

    def __init__(self, session: Session):
        self.by_account: dict[str, int | None] = {}
        self.by_name: dict[str, int | None] = {}
        for dealer_id, name, account in session.execute(select(Dealer.id, Dealer.name, Dealer.bank_account)):
            for table, key in ((self.by_account, normal_account(account)), (self.by_name, normal_name(name))):
                if key:
                    table[key] = None if key in table and table[key] != dealer_id else dealer_id

    def dealer_for(self, account: str | None, name: str | None) -> int | None:
        key = normal_account(account)
        if key and self.by_account.get(key):
            return self.by_account[key]
        return self.by_name.get(normal_name(name)) or None


def payment_count(session: Session, import_run_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Payment).where(Payment.import_run_id == import_run_id))
