"""Rebate claims (返利申请) through the approval engine, via the pages: evidence checked by
its content, approval for less than claimed (a reason required), return and resubmit,
withdraw, rejection, the credit in the ledger only once approved — and who may see a
claim and its evidence."""
import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.compliance.models import ApprovalRequest, Document
from app.demo.data import PASSWORD
from app.rebates.models import RebateClaim
from app.rebates.models import RebateLedgerEntry as Entry

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64


def _submit(b, amount="9800.00", files=None, **extra):
    html = b.get("/dealer/rebate-claims/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    data = {"csrf_token": token, "program": "2026 年华东区冠脉介入学术推广会", "activity_on": "2026-10-12",
            "amount": amount, "description": "参会医生 38 人", **extra}
    if files is None:
        files = [("签到表.pdf", PDF)]
    data["evidence"] = [(io.BytesIO(content), name) for name, content in files]
    return b.client.post("/dealer/rebate-claims/new", base_url=b.base_url, data=data, content_type="multipart/form-data")


def _claim_id(response) -> int:
    return int(re.search(r"/dealer/rebate-claims/(\d+)$", response.headers["Location"]).group(1))


def _decide(b, request_id, action, comment=""):
    path = f"/manufacturer/approvals/{request_id}"
    return b.post(path, {"action": action, "password": PASSWORD, "comment": comment})


def _claim(as_tenant, claim_id):
    with as_tenant("acme") as s:
        claim = s.get(RebateClaim, claim_id)
        s.expunge(claim)
        return claim


def _credits(as_tenant, claim_id):
    with as_tenant("acme") as s:
        return [(e.kind, e.amount) for e in s.scalars(select(Entry).where(Entry.ref_type == "rebate_claims",
                                                                         Entry.ref_id == claim_id))]


def test_a_claim_with_evidence_is_approved_for_less_and_credited(signed_in, as_tenant):
    dealer = signed_in("acme", "dealer1")
    response = _submit(dealer, files=[("签到表.pdf", PDF), ("会场照片.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)])
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    claim_id = _claim_id(response)
    claim = _claim(as_tenant, claim_id)
    assert claim.status == "in_review" and claim.amount == Decimal("9800.00") and claim.number.startswith("RC-")
    with as_tenant("acme") as s:
        docs = s.scalars(select(Document).where(Document.entity_type == "rebate_claims",
                                                Document.entity_id == str(claim_id))).all()
        assert sorted(d.kind for d in docs) == ["pdf", "png"] and {d.dealer_id for d in docs} == {claim.dealer_id}
        request = s.get(ApprovalRequest, claim.approval_request_id)
        assert request.facts["amount"] == "9800.00" and request.route[0]["role"] == "channel_manager"
    assert _credits(as_tenant, claim_id) == []  # nothing before approval

    channel = signed_in("acme", "channel")
    page = channel.get(f"/manufacturer/rebate-claims/{claim_id}").get_data(as_text=True)
    assert 'id="approved-amount"' in page and "签到表.pdf" in page
    path = f"/manufacturer/rebate-claims/{claim_id}/approved-amount"
    more = channel.post(path, {"approved_amount": "12000"}, token_from=f"/manufacturer/rebate-claims/{claim_id}")
    assert more.status_code == 400 and 'id="f-approved_amount-error"' in more.get_data(as_text=True)
    no_reason = channel.post(path, {"approved_amount": "8000"}, token_from=f"/manufacturer/rebate-claims/{claim_id}")
    assert no_reason.status_code == 400 and 'id="f-reason-error"' in no_reason.get_data(as_text=True)
    ok = channel.post(path, {"approved_amount": "8000", "reason": "场地费按发票核减"},
                      token_from=f"/manufacturer/rebate-claims/{claim_id}")
    assert ok.status_code == 303
    # finance holds no step of this claim: it may not set the amount
    finance = signed_in("acme", "finance")
    assert finance.post(path, {"approved_amount": "1"}, token_from="/manufacturer/rebate-claims").status_code == 400
    assert _decide(channel, claim.approval_request_id, "approve").status_code == 303
    claim = _claim(as_tenant, claim_id)
    assert claim.status == "approved" and claim.approved_amount == Decimal("8000.00")
    assert _credits(as_tenant, claim_id) == [("claim", Decimal("8000.00"))]
    mine = dealer.get(f"/dealer/rebate-claims/{claim_id}").get_data(as_text=True)
    assert 'id="claim-credit"' in mine and "¥8,000.00" in mine
    ledger_page = dealer.get("/dealer/rebate-ledger").get_data(as_text=True)
    assert f'href="/dealer/rebate-claims/{claim_id}"' in ledger_page
    with as_tenant("acme") as s:
        entry_id = s.scalar(select(Entry.id).where(Entry.ref_type == "rebate_claims", Entry.ref_id == claim_id))
    entry = dealer.get(f"/dealer/rebate-ledger/{entry_id}").get_data(as_text=True)
    assert "经销商申请 ¥9,800.00，审批人核定 ¥8,000.00。" in entry


def test_a_renamed_binary_or_no_evidence_is_refused_and_nothing_is_written(signed_in, as_tenant):
    dealer = signed_in("acme", "dealer1")
    with as_tenant("acme") as s:
        before = len(s.scalars(select(RebateClaim.id)).all())
    renamed = _submit(dealer, files=[("发票.pdf", EXE)])
    assert renamed.status_code == 400
    assert 'id="evidence-error"' in renamed.get_data(as_text=True) and "发票.pdf" in renamed.get_data(as_text=True)
    none = _submit(dealer, files=[])
    assert none.status_code == 400 and 'id="evidence-error"' in none.get_data(as_text=True)
    with as_tenant("acme") as s:
        assert len(s.scalars(select(RebateClaim.id)).all()) == before


@pytest.mark.parametrize("field,value", [("amount", "nan"), ("amount", "-1"), ("amount", "1e20"), ("amount", "²"),
                                         ("amount", "99999999999999"), ("activity_on", "9999-12-31"),
                                         ("activity_on", "yesterday"), ("program", "")])
def test_bad_claim_input_is_refused_next_to_its_field(signed_in, field, value):
    values = {"amount": "100"}
    values[field] = value
    response = _submit(signed_in("acme", "dealer1"), **values)
    assert response.status_code == 400 and f'id="{field}-error"' in response.get_data(as_text=True)


def test_returned_claim_is_corrected_resubmitted_and_then_approved(signed_in, as_tenant):
    dealer = signed_in("acme", "dealer1")
    claim_id = _claim_id(_submit(dealer, amount="6600.00"))
    claim = _claim(as_tenant, claim_id)
    channel = signed_in("acme", "channel")
    assert _decide(channel, claim.approval_request_id, "return", "请补充会议照片").status_code == 303
    page = dealer.get(f"/dealer/rebate-claims/{claim_id}").get_data(as_text=True)
    assert 'data-status="returned"' in page and "请补充会议照片" in page and 'id="resubmit-form"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    again = dealer.client.post(f"/dealer/rebate-claims/{claim_id}/resubmit", base_url=dealer.base_url,
                               content_type="multipart/form-data",
                               data={"csrf_token": token, "program": "2026 年华东区冠脉介入学术推广会",
                                     "activity_on": "2026-10-12", "amount": "6200.00", "description": "补充照片",
                                     "evidence": [(io.BytesIO(PDF), "会议照片.pdf")]})
    assert again.status_code == 303
    claim = _claim(as_tenant, claim_id)
    with as_tenant("acme") as s:
        request = s.get(ApprovalRequest, claim.approval_request_id)
        assert (claim.status, claim.amount, request.version, request.status) == ("in_review", Decimal("6200.00"), 2,
                                                                                 "in_review")
        assert len(s.scalars(select(Document.id).where(Document.entity_type == "rebate_claims",
                                                       Document.entity_id == str(claim_id))).all()) == 2
    assert _decide(channel, claim.approval_request_id, "approve").status_code == 303
    assert _credits(as_tenant, claim_id) == [("claim", Decimal("6200.00"))]


def test_withdrawn_or_rejected_claims_credit_nothing(signed_in, as_tenant):
    dealer, channel = signed_in("acme", "dealer1"), signed_in("acme", "channel")
    withdrawn = _claim_id(_submit(dealer, amount="300.00"))
    assert dealer.post(f"/dealer/rebate-claims/{withdrawn}/withdraw", {"reason": "重复申请"},
                       token_from=f"/dealer/rebate-claims/{withdrawn}").status_code == 303
    claim = _claim(as_tenant, withdrawn)
    assert claim.status == "withdrawn"
    assert _decide(channel, claim.approval_request_id, "approve").status_code in (400, 404)  # no longer its step
    assert dealer.post(f"/dealer/rebate-claims/{withdrawn}/withdraw", {},
                       token_from=f"/dealer/rebate-claims/{withdrawn}").status_code == 400
    rejected = _claim_id(_submit(dealer, amount="400.00"))
    assert _decide(channel, _claim(as_tenant, rejected).approval_request_id, "reject", "不在活动政策范围内").status_code == 303
    assert _claim(as_tenant, rejected).status == "rejected"
    assert _credits(as_tenant, withdrawn) == [] and _credits(as_tenant, rejected) == []


def test_claims_and_their_evidence_are_closed_to_others(signed_in, as_tenant):
    dealer1 = signed_in("acme", "dealer1")
    claim_id = _claim_id(_submit(dealer1, amount="500.00"))
    with as_tenant("acme") as s:
        doc_id = s.scalar(select(Document.id).where(Document.entity_type == "rebate_claims",
                                                    Document.entity_id == str(claim_id)))
    assert dealer1.get(f"/documents/{doc_id}").data == PDF
    dealer2 = signed_in("acme", "dealer2")
    assert dealer2.get(f"/dealer/rebate-claims/{claim_id}").status_code == 404
    assert dealer2.post(f"/dealer/rebate-claims/{claim_id}/withdraw", {"reason": "x"},
                        token_from="/dealer/rebate-claims").status_code == 404
    assert dealer2.get(f"/documents/{doc_id}").status_code == 404
    assert "RC-" not in dealer2.get("/dealer/rebate-claims").get_data(as_text=True).split("<tbody>")[1].split("</tbody>")[0] \
        or str(claim_id) not in dealer2.get("/dealer/rebate-claims").get_data(as_text=True)
    hospital = signed_in("acme", "hospital1")
    for path in ("/dealer/rebate-claims", f"/dealer/rebate-claims/{claim_id}", "/dealer/rebate-claims/new",
                 "/manufacturer/rebate-claims", f"/manufacturer/rebate-claims/{claim_id}"):
        assert hospital.get(path).status_code == 403, path
    assert hospital.get(f"/documents/{doc_id}").status_code == 404
    assert signed_in("globex", "dealer1").get(f"/dealer/rebate-claims/{claim_id}").status_code == 404
    assert signed_in("globex", "admin").get(f"/manufacturer/rebate-claims/{claim_id}").status_code == 404
    south = signed_in("acme", "sales.south")
    assert south.get(f"/manufacturer/rebate-claims/{claim_id}").status_code == 404
    assert south.get(f"/documents/{doc_id}").status_code == 404
    east = signed_in("acme", "sales.east")
    assert east.get(f"/manufacturer/rebate-claims/{claim_id}").status_code == 200
    assert east.get(f"/documents/{doc_id}").status_code == 200
    # a dealer's sales clerk reads claims but does not file them
    sales = signed_in("acme", "dealer1.sales")
    assert sales.get(f"/dealer/rebate-claims/{claim_id}").status_code == 200
    assert sales.get("/dealer/rebate-claims/new").status_code == 403
