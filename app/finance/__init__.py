"""Money owed and paid: invoices and credit notes, payments and their matching to
invoices, receivables and their aging, reminders, the two-invoice check, and the monthly
reconciliation statements (对账单) dealers confirm with an electronic signature."""
