"""Background work of invoices and collections; importing this module registers it:
the bank statement import job and the daily payment reminders."""
from app.finance import bank_import as _bank_import  # noqa: F401  (finance.bank_import)
from app.finance import reminders as _reminders  # noqa: F401  (@daily payment-reminders)
