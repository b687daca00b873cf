"""Monthly reconciliation statements (对账单): generated per dealer and month by RQ
workers from invoices, credit notes, payments and the rebate ledger (set-based SQL, one
``INSERT … SELECT`` for the lines), printed as a PDF and an .xlsx, confirmed by the
dealer with an electronic signature or disputed line by line, corrected by new versions.

    rules.py       months, line kinds, the figures and their checks, the signed content,
                   the printed layout (pure)
    queries.py     reads, scoped by the acting user's ChannelScope
    operations.py  generation, runs, confirmation, disputes and answers (flush, never commit)
    documents.py   the PDF and the .xlsx
    jobs.py        the per-dealer statement job and the close-of-month run

A package rather than modules beside the finance area's own ``queries.py``/``rules.py``:
the same fixed file names, kept apart from invoices and collections.
"""
