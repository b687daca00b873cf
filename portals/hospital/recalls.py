"""The hospital's recall notices (召回通知): acknowledge, then report the units on hand,
returned and used."""
from __future__ import annotations

from app.core.handlers import RHHospital
from portals import recall_notices as shared


class RHRecallNotices(shared.NoticeList, RHHospital):
    template = "hospital/recalls.html"


class _Record(RHHospital):
    template = "hospital/recall.html"
    endpoint = "hospital.recall"


class RHRecallNotice(shared.NoticeRecord, _Record):
    pass


class RHRecallAcknowledge(shared.NoticeAcknowledge, _Record):
    pass


class RHRecallReport(shared.NoticeReport, _Record):
    pass
