"""Dealers and their qualifications, first-business review, hospitals and regions: what
the channel manager, QA, regional managers and the dealers themselves may see and do."""
import io
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from app.channel import operations as ops
from app.channel.models import Dealer, Hospital, Qualification, Region
from app.channel.rules import uscc_check_char
from app.compliance.models import ApprovalRequest, AuditEvent, Document, Signature
from app.core.errors import InvalidInput
from app.identity.models import User

TINY_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")
FAR = (date.today() + timedelta(days=700)).isoformat()


def new_uscc() -> str:
    body = "91310000MA" + uuid.uuid4().hex.upper()[:7]  # hex digits are all in the code's alphabet
    return body + uscc_check_char(body)


def new_code(prefix="D-T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def _id(as_tenant, model, **where):
    with as_tenant("acme") as session:
        return session.scalar(select(model.id).filter_by(**where))


def region_id(as_tenant, code="SH"):
    return _id(as_tenant, Region, code=code)


def dealer_form(as_tenant, **overrides):
    values = {"code": new_code(), "name": "上海测试医疗器械有限公司 " + uuid.uuid4().hex[:4], "uscc": new_uscc(),
              "tier": "tier1", "upstream_dealer_id": "", "region_id": str(region_id(as_tenant)),
              "contact_name": "王测试", "contact_phone": "021-5555 0101", "contact_email": "wang@example.com",
              "address": "上海市浦东新区张江路 1 号", "credit_limit": "500000.00", "payment_terms_days": "60",
              "bank_name": "招商银行上海分行", "bank_account": "1219 0000 0000 0001"}
    values.update(overrides)
    return values


def make_dealer(as_tenant, status="pending", qualifications=(("business_license", None), ("operating_permit", FAR)),
                region="SH", **values):
    """A dealer made directly through the operations, with qualifications of its own."""
    with as_tenant("acme") as session:
        region_ = session.scalar(select(Region).where(Region.code == region))
        dealer = ops.save_dealer(session, {**dealer_form(as_tenant, region_id=region_.id), "status": status, **values})
        admin = session.scalar(select(User).where(User.email == "admin@acme.test"))
        for kind, until in qualifications:
            q = ops.add_qualification(session, dealer, {"kind": kind, "number": f"{kind[:4].upper()}-{dealer.code}",
                                                        "valid_until": until}, ("licence.pdf", TINY_PDF), admin)
            if status != "pending":
                q.status = "approved"
        session.flush()
        return dealer.id


def upload(browser, dealer_id, content, filename="scan.pdf", **fields):
    data = {"kind": "business_license", "number": "913100001", "valid_until": FAR,
            "file": (io.BytesIO(content), filename), **fields}
    return browser.post(f"/manufacturer/dealers/{dealer_id}/qualifications", data,
                        token_from=f"/manufacturer/dealers/{dealer_id}", content_type="multipart/form-data")


def decide(browser, request_id, action="approve", comment=""):
    page = f"/manufacturer/approvals/{request_id}"
    return browser.post(page, {"action": action, "password": "MedChannel-demo-1", "comment": comment})


@pytest.fixture(scope="module")
def qualification_chain(app):
    """Renewals reviewed by QA in acme (the demo approves them at once)."""
    from tests.conftest import Browser

    admin = Browser(app, "acme.localhost")
    assert admin.sign_in("admin@acme.test").status_code == 303
    page = admin.get("/manufacturer/approval-chains").get_data(as_text=True)
    if "资质复审" not in page:
        response = admin.post("/manufacturer/approval-chains", {
            "kind": "qualification_review", "name": "资质复审", "role": "qa_ra", "same_region": "",
            "condition_field": "", "condition_op": "", "condition_value": "", "sla_hours": "48"})
        assert response.status_code == 303
    return True


# --- creating and editing dealers -----------------------------------------------------------

def test_channel_manager_creates_a_dealer_that_waits_for_review(signed_in, as_tenant):
    channel = signed_in("acme", "channel")
    values = dealer_form(as_tenant)
    response = channel.post("/manufacturer/dealers/new", values)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    with as_tenant("acme") as session:
        dealer = session.scalar(select(Dealer).where(Dealer.code == values["code"]))
        assert dealer.status == "pending" and dealer.credit_limit == 500000 and dealer.uscc == values["uscc"]
        created = session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "dealers",
                                                          AuditEvent.entity_id == str(dealer.id)))
        assert created.action == "create" and created.actor_label == "channel@acme.test"
    page = channel.get(response.headers["Location"]).get_data(as_text=True)
    assert "待审核" in page
    assert "提交首营审核" in page


@pytest.mark.parametrize("field,value,shown_at", [
    ("uscc", "91310000MA1FL00001", "uscc"),
    ("code", "D-SH-001", "code"),
    ("name", "", "name"),
    ("tier", "tier2", "upstream_dealer_id"),  # a second-tier dealer without its upstream dealer
    ("credit_limit", "-1", "credit_limit"),
    ("credit_limit", "一百万", "credit_limit"),
    ("payment_terms_days", "400", "payment_terms_days"),
    ("region_id", "999999", "region_id"),
    ("contact_email", "not-an-address", "contact_email"),
])
def test_dealer_form_errors_show_next_to_the_field_and_nothing_is_written(signed_in, as_tenant, field, value, shown_at):
    values = dealer_form(as_tenant, **{field: value})
    before = _count(as_tenant, Dealer)
    response = signed_in("acme", "channel").post("/manufacturer/dealers/new", values)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="f-{shown_at}-error"' in html and 'aria-invalid="true"' in html
    assert _count(as_tenant, Dealer) == before
    if field != "code":
        assert values["code"] not in _codes(as_tenant)


def _count(as_tenant, model):
    with as_tenant("acme") as session:
        return session.scalar(select(func.count()).select_from(model))


def _codes(as_tenant):
    with as_tenant("acme") as session:
        return set(session.scalars(select(Dealer.code)))


def test_duplicate_unified_social_credit_code_is_refused(as_tenant):
    uscc = new_uscc()
    make_dealer(as_tenant, uscc=uscc, qualifications=())
    with as_tenant("acme") as session:
        with pytest.raises(InvalidInput) as err:
            ops.save_dealer(session, {**dealer_form(as_tenant), "uscc": uscc.lower()})
        assert err.value.field == "uscc"


def test_second_tier_dealer_names_an_active_upstream_and_the_chain_cannot_go_round(as_tenant, signed_in):
    top = make_dealer(as_tenant, status="active", tier="agent")
    pending = make_dealer(as_tenant, qualifications=())
    with as_tenant("acme") as session:
        with pytest.raises(InvalidInput, match="启用") as err:
            ops.save_dealer(session, {**dealer_form(as_tenant), "tier": "tier2", "upstream_dealer_id": pending})
        assert err.value.field == "upstream_dealer_id"
        middle = ops.save_dealer(session, {**dealer_form(as_tenant), "tier": "tier2", "upstream_dealer_id": top,
                                           "status": "active"})
        with pytest.raises(InvalidInput) as err:
            ops.save_dealer(session, {"tier": "tier2", "upstream_dealer_id": middle.id}, session.get(Dealer, top))
        assert err.value.field == "upstream_dealer_id"
        with pytest.raises(InvalidInput):
            ops.save_dealer(session, {"upstream_dealer_id": middle.id}, middle)
        bottom = ops.save_dealer(session, {**dealer_form(as_tenant), "tier": "tier2", "upstream_dealer_id": middle.id})
        assert [d.id for d in ops.upstream_chain(bottom)] == [middle.id, top]
        bottom_id, middle_id = bottom.id, middle.id
    page = signed_in("acme", "channel").get(f"/manufacturer/dealers/{bottom_id}").get_data(as_text=True)
    assert page.index("/manufacturer/dealers/%d\"" % top) < page.index("/manufacturer/dealers/%d\"" % middle_id)


def test_contacts_and_credit_are_edited_in_place(signed_in, as_tenant):
    dealer_id = make_dealer(as_tenant, status="active")
    channel = signed_in("acme", "channel")
    hx = {"HX-Request": "true", "HX-Target": "dealer-terms"}
    form = channel.get(f"/manufacturer/dealers/{dealer_id}/terms", headers=hx).get_data(as_text=True)
    assert "<html" not in form and 'name="credit_limit"' in form and 'hx-post=' in form
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    bad = channel.post(f"/manufacturer/dealers/{dealer_id}/terms", {"csrf_token": token, "credit_limit": "-5",
                                                                   "contact_name": "李新"}, headers=hx)
    assert bad.status_code == 400 and 'id="f-credit_limit-error"' in bad.get_data(as_text=True)
    good = channel.post(f"/manufacturer/dealers/{dealer_id}/terms", {"csrf_token": token, "credit_limit": "1,200,000",
                                                                    "contact_name": "李新", "payment_terms_days": "90"},
                        headers=hx)
    html = good.get_data(as_text=True)
    assert good.status_code == 200 and "<html" not in html and "¥1,200,000.00" in html and "李新" in html
    with as_tenant("acme") as session:
        dealer = session.get(Dealer, dealer_id)
        assert (dealer.credit_limit, dealer.payment_terms_days, dealer.contact_name) == (1200000, 90, "李新")
        change = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "dealers",
                                                          AuditEvent.entity_id == str(dealer_id))
                                 .order_by(AuditEvent.seq.desc())).first()
        assert change.before["credit_limit"] == "500000.00" and change.after["credit_limit"] == "1200000.00"
    assert "¥1,200,000.00" in channel.get(f"/manufacturer/dealers/{dealer_id}").get_data(as_text=True)


# --- uploads --------------------------------------------------------------------------------------

seen_messages: dict = {}


@pytest.mark.parametrize("content,filename,message", [
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00 This program cannot be run in DOS mode", "licence.pdf", "type"),
    (b"<!doctype html><html><script>alert(1)</script></html>", "licence.html", "type"),
    (b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024), "big.pdf", "size"),
    (b"", "empty.pdf", "empty"),
])
def test_uploads_are_checked_by_content_and_size(signed_in, as_tenant, content, filename, message):
    dealer_id = make_dealer(as_tenant, qualifications=())
    before = _count(as_tenant, Document), _count(as_tenant, Qualification)
    response = upload(signed_in("acme", "channel"), dealer_id, content, filename)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="q_f-file-error"' in html
    shown = html.split('id="q_f-file-error">')[1].split("</p>")[0]
    assert ("10 MB" in shown) == (message == "size") and ("PDF" in shown) == (message != "size")
    seen_messages.setdefault(message, set()).add(shown)
    assert all(len(texts) == 1 for texts in seen_messages.values())  # one wording per kind of refusal
    assert (_count(as_tenant, Document), _count(as_tenant, Qualification)) == before


def test_expired_or_inconsistent_dates_are_refused_at_upload(signed_in, as_tenant):
    dealer_id = make_dealer(as_tenant, qualifications=())
    channel = signed_in("acme", "channel")
    past = upload(channel, dealer_id, TINY_PDF, valid_until=(date.today() - timedelta(days=3)).isoformat())
    assert past.status_code == 400 and 'id="q_f-valid_until-error"' in past.get_data(as_text=True)
    garbled = upload(channel, dealer_id, TINY_PDF, valid_until="2027-02-31")
    assert garbled.status_code == 400 and 'id="q_f-valid_until-error"' in garbled.get_data(as_text=True)
    no_kind = upload(channel, dealer_id, TINY_PDF, kind="passport")
    assert no_kind.status_code == 400 and 'id="q_f-kind-error"' in no_kind.get_data(as_text=True)


def test_a_pdf_upload_is_stored_once_and_downloadable_by_the_channel(signed_in, as_tenant):
    dealer_id = make_dealer(as_tenant, qualifications=())
    channel = signed_in("acme", "channel")
    assert upload(channel, dealer_id, TINY_PDF, "营业执照 扫描件.exe.pdf").status_code == 303
    with as_tenant("acme") as session:
        q = session.scalar(select(Qualification).where(Qualification.dealer_id == dealer_id))
        doc = session.get(Document, q.document_id)
        assert q.status == "pending" and doc.kind == "pdf" and doc.dealer_id == dealer_id
        assert doc.entity_type == "qualifications" and doc.entity_id == str(q.id) and doc.filename.endswith(".pdf")
        assert doc.storage_key.startswith("acme/uploads/qualifications/")
        doc_id = doc.id
    for who in ("channel", "qa", "finance"):
        got = signed_in("acme", who).get(f"/documents/{doc_id}")
        assert got.status_code == 200 and got.data == TINY_PDF
    assert signed_in("acme", "sales.south").get(f"/documents/{doc_id}").status_code == 404  # not their region
    assert signed_in("acme", "dealer2").get(f"/documents/{doc_id}").status_code == 404
    assert signed_in("globex", "admin").get(f"/documents/{doc_id}").status_code == 404


# --- first-business review ----------------------------------------------------------------------------

def test_review_needs_a_licence_and_a_device_permit(signed_in, as_tenant):
    dealer_id = make_dealer(as_tenant, qualifications=(("business_license", None),))
    response = signed_in("acme", "channel").post(f"/manufacturer/dealers/{dealer_id}/review",
                                                 token_from=f"/manufacturer/dealers/{dealer_id}")
    assert response.status_code == 400
    assert "经营许可证" in response.get_data(as_text=True) or "operating permit" in response.get_data(as_text=True)
    with as_tenant("acme") as session:
        assert not session.scalar(select(ApprovalRequest.id).where(ApprovalRequest.entity_type == "dealers",
                                                                   ApprovalRequest.entity_id == str(dealer_id)))


def _submit_review(signed_in, dealer_id):
    channel = signed_in("acme", "channel")
    response = channel.post(f"/manufacturer/dealers/{dealer_id}/review", token_from=f"/manufacturer/dealers/{dealer_id}")
    assert response.status_code == 303, response.get_data(as_text=True)[:1500]
    return int(response.headers["Location"].rsplit("/", 1)[1]), channel


def test_first_business_review_activates_the_dealer_and_its_qualifications(signed_in, as_tenant):
    dealer_id = make_dealer(as_tenant)
    request_id, channel = _submit_review(signed_in, dealer_id)
    again = channel.post(f"/manufacturer/dealers/{dealer_id}/review", token_from=f"/manufacturer/dealers/{dealer_id}")
    assert again.status_code == 400  # one review at a time
    assert decide(signed_in("acme", "qa"), request_id).status_code == 303
    assert decide(signed_in("acme", "finance"), request_id).status_code == 404  # not a step of theirs
    assert decide(channel, request_id).status_code == 400  # the requester never approves their own request
    with as_tenant("acme") as session:
        req = session.get(ApprovalRequest, request_id)
        assert req.status == "in_review" and req.current_index == 1
    _approve_last_step(signed_in, as_tenant, request_id)
    with as_tenant("acme") as session:
        dealer = session.get(Dealer, dealer_id)
        assert dealer.status == "active"
        statuses = set(session.scalars(select(Qualification.status).where(Qualification.dealer_id == dealer_id)))
        assert statuses == {"approved"}


def _approve_last_step(signed_in, as_tenant, request_id, expect=303):
    """The channel step decided by a second channel manager (not the requester)."""
    with as_tenant("acme") as session:
        other = session.scalar(select(User).where(User.email == "channel2@acme.test"))
        if other is None:
            base = session.scalar(select(User).where(User.email == "channel@acme.test"))
            session.add(User(email="channel2@acme.test", name="渠道经理 二", portal="manufacturer",
                             roles=["channel_manager"], password_hash=base.password_hash))
    response = decide(signed_in("acme", "channel2"), request_id)
    assert response.status_code == expect, response.get_data(as_text=True)[:1500]
    return response


def test_an_expired_qualification_blocks_activation_and_nothing_changes(signed_in, as_tenant):
    dealer_id = make_dealer(as_tenant)
    request_id, _ = _submit_review(signed_in, dealer_id)
    assert decide(signed_in("acme", "qa"), request_id).status_code == 303
    with as_tenant("acme") as session:  # the permit lapses while the review waits
        session.execute(update(Qualification).where(Qualification.dealer_id == dealer_id,
                                                    Qualification.kind == "operating_permit")
                        .values(valid_until=date.today() - timedelta(days=1)))
        signatures = session.scalar(select(func.count()).select_from(Signature))
    refused = _approve_last_step(signed_in, as_tenant, request_id, expect=400)
    assert "该经销商无法启用" in refused.get_data(as_text=True)
    with as_tenant("acme") as session:
        req = session.get(ApprovalRequest, request_id)
        assert (req.status, req.current_index) == ("in_review", 1)
        assert session.get(Dealer, dealer_id).status == "pending"
        assert session.scalar(select(func.count()).select_from(Signature)) == signatures
    page = signed_in("acme", "channel").get(f"/manufacturer/dealers/{dealer_id}").get_data(as_text=True)
    assert "已过期" in page or "Expired" in page


def test_rejected_review_leaves_the_dealer_rejected(signed_in, as_tenant):
    dealer_id = make_dealer(as_tenant)
    request_id, _ = _submit_review(signed_in, dealer_id)
    assert decide(signed_in("acme", "qa"), request_id, "reject", "营业执照经营范围不含第三类医疗器械").status_code == 303
    with as_tenant("acme") as session:
        assert session.get(Dealer, dealer_id).status == "rejected"


def test_deactivation_needs_a_reason_and_reactivation_valid_qualifications(signed_in, as_tenant):
    dealer_id = make_dealer(as_tenant, status="active")
    channel = signed_in("acme", "channel")
    page = f"/manufacturer/dealers/{dealer_id}"
    no_reason = channel.post(f"{page}/status", {"status": "inactive", "reason": ""}, token_from=page)
    assert no_reason.status_code == 400 and 'id="status_f-reason-error"' in no_reason.get_data(as_text=True)
    assert channel.post(f"{page}/status", {"status": "inactive", "reason": "停止合作"}, token_from=page).status_code == 303
    with as_tenant("acme") as session:
        assert session.get(Dealer, dealer_id).status == "inactive"
        event = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "dealers",
                                                         AuditEvent.entity_id == str(dealer_id))
                                .order_by(AuditEvent.seq.desc())).first()
        assert (event.action, event.reason) == ("deactivate", "停止合作")
        session.execute(update(Qualification).where(Qualification.dealer_id == dealer_id,
                                                    Qualification.kind == "business_license")
                        .values(valid_until=date.today() - timedelta(days=1)))
    refused = channel.post(f"{page}/status", {"status": "active", "reason": "恢复合作"}, token_from=page)
    assert refused.status_code == 400 and 'id="status_f-reason-error"' in refused.get_data(as_text=True)
    assert "停止合作" in channel.get(page).get_data(as_text=True)  # shown in the history


# --- renewals by the dealer ------------------------------------------------------------------------------

def _dealer1_licence(as_tenant):
    with as_tenant("acme") as session:
        dealer = session.scalar(select(Dealer).where(Dealer.code == "D-SH-001"))
        q = Qualification(dealer_id=dealer.id, kind="business_license", number="91310000DEALER1",
                          valid_until=date.today() + timedelta(days=20), status="approved")
        session.add(q)
        session.flush()
        return q.id


def test_dealer_uploads_a_renewal_that_supersedes_the_old_one_once_approved(signed_in, as_tenant, qualification_chain):
    old_id = _dealer1_licence(as_tenant)
    dealer1 = signed_in("acme", "dealer1")
    page = dealer1.get("/dealer/qualifications").get_data(as_text=True)
    assert "91310000DEALER1" in page and f"/dealer/qualifications/{old_id}/renew" in page
    response = dealer1.post(f"/dealer/qualifications/{old_id}/renew",
                            {"number": "91310000DEALER1-2", "valid_until": FAR, "file": (io.BytesIO(TINY_PDF), "new.pdf")},
                            content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)[:1500]
    with as_tenant("acme") as session:
        new = session.scalar(select(Qualification).where(Qualification.number == "91310000DEALER1-2"))
        assert (new.status, new.replaces_id, new.kind) == ("pending", old_id, "business_license")
        assert session.get(Qualification, old_id).status == "approved"  # in force until the renewal is approved
        req = session.scalar(select(ApprovalRequest).where(ApprovalRequest.kind == "qualification_review",
                                                           ApprovalRequest.entity_id == str(new.id)))
        request_id, new_id, doc_id = req.id, new.id, new.document_id
    assert dealer1.get(f"/documents/{doc_id}").status_code == 200
    assert f"/dealer/requests/{request_id}" in dealer1.get("/dealer/requests").get_data(as_text=True)
    assert decide(signed_in("acme", "qa"), request_id).status_code == 303
    with as_tenant("acme") as session:
        assert session.get(Qualification, new_id).status == "approved"
        assert session.get(Qualification, old_id).status == "superseded"


def test_dealer_sales_cannot_upload_or_edit_contacts(signed_in, as_tenant):
    sales = signed_in("acme", "dealer1.sales")
    assert sales.get("/dealer/qualifications").status_code == 200
    assert sales.get("/dealer/qualifications/new").status_code == 403
    assert sales.post("/dealer/profile/contacts", {"contact_name": "x"}, token_from="/dealer/profile").status_code == 403


def test_dealer_owner_edits_contacts_not_the_rest(signed_in, as_tenant):
    dealer1 = signed_in("acme", "dealer1")
    page = dealer1.get("/dealer/profile").get_data(as_text=True)
    assert "华东医疗器械有限公司" in page and 'name="contact_phone"' in page and 'name="credit_limit"' not in page
    bad = dealer1.post("/dealer/profile/contacts", {"contact_name": "陈志强", "contact_phone": "021-6432 8810",
                                                    "contact_email": "chen@"}, token_from="/dealer/profile")
    assert bad.status_code == 400 and 'id="f-contact_email-error"' in bad.get_data(as_text=True)
    ok = dealer1.post("/dealer/profile/contacts", {"contact_name": "陈志强", "contact_phone": "021-6432 8811",
                                                   "contact_email": "chen@hd-med.example", "credit_limit": "99999999"},
                      token_from="/dealer/profile")
    assert ok.status_code == 303
    with as_tenant("acme") as session:
        dealer = session.scalar(select(Dealer).where(Dealer.code == "D-SH-001"))
        assert dealer.contact_phone == "021-6432 8811" and dealer.credit_limit != 99999999


def test_dealer_cannot_see_other_dealers_qualifications(signed_in, as_tenant):
    other = make_dealer(as_tenant, status="active")
    with as_tenant("acme") as session:
        q = session.scalar(select(Qualification).where(Qualification.dealer_id == other))
        q_id, doc_id, number = q.id, q.document_id, q.number
    dealer2 = signed_in("acme", "dealer2")
    assert number not in dealer2.get("/dealer/qualifications").get_data(as_text=True)
    assert dealer2.get(f"/dealer/qualifications/{q_id}/renew").status_code == 404
    sneaky = dealer2.post(f"/dealer/qualifications/{q_id}/renew", {"number": "X", "file": (io.BytesIO(TINY_PDF), "a.pdf")},
                          token_from="/dealer/qualifications", content_type="multipart/form-data")
    assert sneaky.status_code == 404
    assert dealer2.get(f"/documents/{doc_id}").status_code == 404
    assert signed_in("acme", "hospital1").get(f"/documents/{doc_id}").status_code == 404
    assert dealer2.get(f"/manufacturer/dealers/{other}").status_code == 403


# --- who may open what ---------------------------------------------------------------------------------------

def test_roles_hospitals_and_dealers_are_refused_the_manufacturer_pages(signed_in, as_tenant):
    dealer_id = make_dealer(as_tenant, qualifications=())
    hospital_id = _id(as_tenant, Hospital, code="H-SH-001")
    page = f"/manufacturer/dealers/{dealer_id}"
    for who in ("hospital1", "dealer1"):
        b = signed_in("acme", who)
        for path in ("/manufacturer/dealers", page, "/manufacturer/hospitals", f"/manufacturer/hospitals/{hospital_id}",
                     "/manufacturer/regions", "/manufacturer/dealers/new"):
            assert b.get(path).status_code == 403, (who, path)
    finance = signed_in("acme", "finance")
    assert finance.get(page).status_code == 200
    assert "提交首营审核" not in finance.get(page).get_data(as_text=True)
    assert finance.get("/manufacturer/dealers/new").status_code == 403
    assert finance.post(f"{page}/edit", dealer_form(as_tenant), token_from=page).status_code == 403
    assert finance.post(f"{page}/review", token_from=page).status_code == 403
    assert finance.post("/manufacturer/hospitals/new", {"name": "x"}, token_from="/manufacturer/hospitals").status_code == 403
    service = signed_in("acme", "service")
    assert upload(service, dealer_id, TINY_PDF).status_code == 403
    assert upload(signed_in("acme", "qa"), dealer_id, TINY_PDF).status_code == 303
    assert service.post("/manufacturer/regions/new", {"code": "X"}, token_from="/manufacturer/regions").status_code == 403


def test_other_tenant_cannot_read_or_change_acme_records(signed_in, as_tenant):
    dealer_id = make_dealer(as_tenant, qualifications=())  # acme has far more dealers than globex
    globex = signed_in("globex", "admin")
    assert globex.get(f"/manufacturer/dealers/{dealer_id}").status_code == 404
    assert globex.post(f"/manufacturer/dealers/{dealer_id}/status", {"status": "inactive", "reason": "x"},
                       token_from="/manufacturer/dealers").status_code == 404
    assert upload(globex, dealer_id, TINY_PDF).status_code in (400, 404)  # no token page; never a write
    with as_tenant("acme") as session:
        assert session.get(Dealer, dealer_id).status == "pending"
    assert globex.get("/manufacturer/hospitals/999999").status_code == 404


def test_regional_manager_sees_only_own_regions_dealers(signed_in, as_tenant):
    east, south = signed_in("acme", "sales.east"), signed_in("acme", "sales.south")
    shanghai, guangzhou = _id(as_tenant, Dealer, code="D-SH-001"), _id(as_tenant, Dealer, code="D-GD-001")
    assert east.get(f"/manufacturer/dealers/{shanghai}").status_code == 200
    assert east.get(f"/manufacturer/dealers/{guangzhou}").status_code == 404
    assert south.get(f"/manufacturer/dealers/{shanghai}").status_code == 404
    assert east.get(f"/manufacturer/hospitals/{_id(as_tenant, Hospital, code='H-GD-001')}").status_code == 404
    assert east.get(f"/manufacturer/hospitals/{_id(as_tenant, Hospital, code='H-SH-001')}").status_code == 200
    assert "编辑" not in east.get(f"/manufacturer/dealers/{shanghai}").get_data(as_text=True).split("</h1>")[1][:400]


def test_dealer_list_filters_by_status_and_tier(signed_in, as_tenant):
    make_dealer(as_tenant, qualifications=(), name="过滤测试待审医疗器械有限公司")
    channel = signed_in("acme", "channel")
    pending = channel.get("/manufacturer/dealers?status=pending").get_data(as_text=True)
    assert "过滤测试待审医疗器械有限公司" in pending and "华东医疗器械有限公司" not in pending
    agents = channel.get("/manufacturer/dealers?tier=agent&status=active").get_data(as_text=True)
    assert "华东医疗器械有限公司" in agents and "上海联拓医疗器械有限公司" not in agents
    assert channel.get("/manufacturer/dealers?status=bogus&tier=%00").status_code == 200


# --- hospitals ----------------------------------------------------------------------------------------------

def test_hospital_create_edit_deactivate_with_history(signed_in, as_tenant):
    channel = signed_in("acme", "channel")
    serving = _id(as_tenant, Dealer, code="D-SH-002")
    code = new_code("H-T")
    values = {"code": code, "name": "上海测试医院 " + code, "grade": "三级乙等", "region_id": str(region_id(as_tenant, "SH-C")),
              "city": "上海", "address": "徐汇区", "departments": "心内科、检验科, 心内科", "contact_name": "赵工",
              "contact_phone": "021-1234", "serving_dealer_id": str(serving)}
    bad = channel.post("/manufacturer/hospitals/new", {**values, "grade": "三甲"}, token_from="/manufacturer/hospitals/new")
    assert bad.status_code == 400 and 'id="f-grade-error"' in bad.get_data(as_text=True)
    pending_dealer = make_dealer(as_tenant, qualifications=())
    bad = channel.post("/manufacturer/hospitals/new", {**values, "serving_dealer_id": str(pending_dealer)},
                       token_from="/manufacturer/hospitals/new")
    assert bad.status_code == 400 and 'id="f-serving_dealer_id-error"' in bad.get_data(as_text=True)
    created = channel.post("/manufacturer/hospitals/new", values, token_from="/manufacturer/hospitals/new")
    assert created.status_code == 303
    path = created.headers["Location"]
    hospital_id = int(path.rsplit("/", 1)[1])
    with as_tenant("acme") as session:
        assert session.get(Hospital, hospital_id).departments == ["心内科", "检验科"]
    listed = channel.get(f"/manufacturer/hospitals?grade=三级乙等&dealer={serving}").get_data(as_text=True)
    assert values["name"] in listed and "复旦大学附属中山医院" not in listed
    assert channel.post(f"{path}/edit", {**values, "grade": "三级甲等"}, token_from=f"{path}/edit").status_code == 303
    assert channel.post(f"{path}/status", {"status": "inactive", "reason": "合并入总院"}, token_from=path).status_code == 303
    page = channel.get(path).get_data(as_text=True)
    assert "三级甲等" in page and "合并入总院" in page and "三级乙等" in page  # the change shows in the history
    assert signed_in("acme", "dealer1").get(path).status_code == 403
    assert signed_in("acme", "finance").post(f"{path}/edit", values, token_from=path).status_code == 403


# --- regions ---------------------------------------------------------------------------------------------------------

def test_regions_tree_shows_managers_and_takes_a_child(signed_in, as_tenant):
    channel = signed_in("acme", "channel")
    page = channel.get("/manufacturer/regions").get_data(as_text=True)
    assert "华东区域经理 沈浩" in page and "华南区域经理 梁宇" in page
    jiangsu = region_id(as_tenant, "JS")
    code = new_code("JS")[:12]
    response = channel.post("/manufacturer/regions/new", {"parent_id": str(jiangsu), "code": code, "name": "无锡",
                                                          "name_en": "Wuxi"}, token_from="/manufacturer/regions")
    assert response.status_code == 303
    with as_tenant("acme") as session:
        wuxi = session.scalar(select(Region).where(Region.code == code))
        parent = session.get(Region, jiangsu)
        assert wuxi.level == 3 and wuxi.path == f"{parent.path}{wuxi.id}/"
        city = wuxi.id
    too_deep = channel.post("/manufacturer/regions/new", {"parent_id": str(city), "code": code + "X", "name": "区",
                                                          "name_en": "District"}, token_from="/manufacturer/regions")
    assert too_deep.status_code == 400 and 'id="f-parent_id-error"' in too_deep.get_data(as_text=True)
    duplicate = channel.post("/manufacturer/regions/new", {"parent_id": str(jiangsu), "code": code, "name": "无锡",
                                                           "name_en": "Wuxi"}, token_from="/manufacturer/regions")
    assert duplicate.status_code == 400 and 'id="f-code-error"' in duplicate.get_data(as_text=True)
    assert signed_in("acme", "sales.east").get("/manufacturer/regions").status_code == 200


def test_dealer_pages_belong_to_dealers_only_and_each_to_its_own(signed_in):
    for who in ("hospital1", "admin", "channel"):
        b = signed_in("acme", who)
        for path in ("/dealer/profile", "/dealer/qualifications", "/dealer/qualifications/new"):
            assert b.get(path).status_code == 403, (who, path)
    globex = signed_in("globex", "dealer1").get("/dealer/profile").get_data(as_text=True)
    assert "广东粤新医疗器械有限公司" in globex and "华东医疗器械有限公司" not in globex
    assert "华东医疗器械有限公司" in signed_in("acme", "dealer1").get("/dealer/profile").get_data(as_text=True)


def test_editing_a_second_tier_dealer_keeps_its_chain_as_it_is(as_tenant):
    with as_tenant("acme") as session:
        hebei = session.scalar(select(Dealer).where(Dealer.code == "D-HE-001"))  # tier 2 under 北京华瑞通
        upstream = hebei.upstream_dealer_id
        ops.save_dealer(session, {"contact_name": "孙丽", "credit_limit": "300000", "tier": "tier2"}, hebei)
        assert hebei.credit_limit == 300000 and hebei.upstream_dealer_id == upstream is not None
        with pytest.raises(InvalidInput) as err:
            ops.save_dealer(session, {"tier": "agent", "upstream_dealer_id": str(hebei.id)}, hebei)
        assert err.value.field == "upstream_dealer_id"
        session.rollback()  # leave the demo dealer as seeded
