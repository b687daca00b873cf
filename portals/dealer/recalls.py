"""The dealer's recall tasks (召回通知): acknowledge, then report the units on hand,
returned and used."""
from __future__ import annotations

from app.core.handlers import RHDealer
from portals import recall_notices as shared


class RHRecallNotices(shared.NoticeList, RHDealer):
    template = "dealer/recalls.html"


class _Record(RHDealer):
    template = "dealer/recall.html"
    endpoint = "dealer.recall"


class RHRecallNotice(shared.NoticeRecord, _Record):
    pass


class RHRecallAcknowledge(shared.NoticeAcknowledge, _Record):
    pass


class RHRecallReport(shared.NoticeReport, _Record):
    pass
