"""The catalog: product lines, registration certificates (注册证) and SKUs — who may see
and change them, validation next to the field, first-business review (首营审核) of a new
SKU through the approval engine, inline editing, and the audit history."""
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.catalog import operations as ops
from app.catalog import queries as catalog_q
from app.catalog.models import ProductLine, Registration, Sku
from app.catalog.rules import gtin_check_digit
from app.compliance.expiry import shanghai_today
from app.compliance.models import ApprovalRequest, AuditEvent
from app.core.errors import InvalidInput

VIEWERS = ("admin", "channel", "qa", "sales.east", "finance", "service")
HX = {"HX-Request": "true"}


def gtin(seed: int | None = None) -> str:
    first13 = f"{(seed if seed is not None else uuid.uuid4().int) % 10**13:013d}"
    return first13 + str(gtin_check_digit(first13))


def nhsa() -> str:
    return "C" + f"{uuid.uuid4().int % 10**26:026d}"


def _line_id(session, code="CV") -> int:
    return session.scalar(select(ProductLine.id).where(ProductLine.code == code))


def make_registration(as_tenant, slug="acme", **over) -> int:
    today = shanghai_today()
    with as_tenant(slug) as session:
        values = {"number": "国械注准" + uuid.uuid4().hex[:10], "product_name": "药物洗脱冠脉支架系统",
                  "device_class": "III", "holder": "艾科医疗科技（苏州）有限公司", "valid_from": today - timedelta(days=400),
                  "valid_until": today + timedelta(days=1000), **over}
        return ops.save_registration(session, values).id


def make_sku(as_tenant, slug="acme", registration_id=None, **over) -> tuple[int, str]:
    code = over.pop("code", "T-" + uuid.uuid4().hex[:10].upper())
    with as_tenant(slug) as session:
        values = {"code": code, "name": "PTCA球囊扩张导管", "specification": "Ø2.5 mm × 20 mm", "unit": "根",
                  "product_line_id": _line_id(session), "registration_id": registration_id, **over}
        return ops.save_sku(session, values).id, code


def sku_state(as_tenant, sku_id, slug="acme"):
    with as_tenant(slug) as session:
        sku = session.get(Sku, sku_id)
        return sku.status, sku.name, sku.unit


@pytest.fixture()
def product_review_chain(as_tenant):
    """First-business review of products by QA/RA (the demo has no chain: approved at once)."""
    from app.compliance import approvals

    with as_tenant("acme") as session:
        step_id = approvals.add_step(session, "product_review", approvals.StepSpec(name="质量部首营审核", role="qa_ra")).id
    yield step_id
    with as_tenant("acme") as session:
        from app.compliance.models import ApprovalStep

        approvals.remove_step(session, session.get(ApprovalStep, step_id))


# --- who may see and change ------------------------------------------------------------------

def test_every_manufacturer_role_with_catalog_access_sees_the_lists(signed_in, as_tenant):
    sku_id, code = make_sku(as_tenant)
    for local in VIEWERS:
        b = signed_in("acme", local)
        for path in ("/manufacturer/skus", "/manufacturer/registrations", "/manufacturer/product-lines",
                     "/manufacturer/expiry", f"/manufacturer/skus/{sku_id}"):
            assert b.get(path).status_code == 200, (local, path)
        assert code in b.get(f"/manufacturer/skus?q={code}").get_data(as_text=True)


def test_dealers_and_hospitals_cannot_open_or_change_the_catalog(signed_in, as_tenant):
    registration_id = make_registration(as_tenant)
    sku_id, code = make_sku(as_tenant, registration_id=registration_id)
    for local in ("dealer1", "dealer2", "hospital1", "hospital2"):
        b = signed_in("acme", local)
        for path in ("/manufacturer/skus", "/manufacturer/skus/new", f"/manufacturer/skus/{sku_id}",
                     f"/manufacturer/skus/{sku_id}/row?edit=1", "/manufacturer/registrations",
                     f"/manufacturer/registrations/{registration_id}", "/manufacturer/product-lines",
                     "/manufacturer/expiry"):
            assert b.get(path).status_code == 403, (local, path)
        home = b.get("/account").get_data(as_text=True)
        response = b.post(f"/manufacturer/skus/{sku_id}/row", {"name": "改名"}, token_from="/account")
        assert response.status_code == 403 and "/manufacturer/skus" not in home
    assert sku_state(as_tenant, sku_id)[1] == "PTCA球囊扩张导管"


def test_another_tenant_cannot_read_or_change_an_acme_sku(signed_in, as_tenant):
    registration_id = make_registration(as_tenant)
    sku_id, code = make_sku(as_tenant, registration_id=registration_id)
    with as_tenant("globex") as session:
        globex_has_the_id = session.get(Sku, sku_id) is not None
        globex_has_the_registration_id = session.get(Registration, registration_id) is not None
    globex = signed_in("globex", "admin")
    page = globex.get(f"/manufacturer/skus/{sku_id}")
    assert code not in page.get_data(as_text=True)
    assert page.status_code == (200 if globex_has_the_id else 404)
    listed = globex.get(f"/manufacturer/skus?q={code}", headers=HX).get_data(as_text=True)
    # the search itself comes back only in the export form, which carries the filters
    assert code not in listed.split('<form method="post" action="/manufacturer/exports"')[0]
    assert f'id="sku-{sku_id}"' not in listed
    if not globex_has_the_registration_id:
        assert globex.get(f"/manufacturer/registrations/{registration_id}").status_code == 404
    globex.post(f"/manufacturer/skus/{sku_id}/row", {"name": "globex 改名", "unit": "个"}, token_from="/manufacturer/",
                headers=HX)
    assert sku_state(as_tenant, sku_id)[1] == "PTCA球囊扩张导管"
    assert signed_in("acme", "admin").get("/manufacturer/skus/99999999").status_code == 404


def test_roles_without_edit_rights_get_403(signed_in, as_tenant):
    registration_id = make_registration(as_tenant)
    sku_id, _ = make_sku(as_tenant, registration_id=registration_id)
    for local in ("finance", "service", "sales.east"):
        b = signed_in("acme", local)
        assert b.get("/manufacturer/skus/new").status_code == 403
        assert b.get(f"/manufacturer/skus/{sku_id}/edit").status_code == 403
        assert b.get(f"/manufacturer/registrations/{registration_id}/edit").status_code == 403
        assert b.post(f"/manufacturer/skus/{sku_id}/status", {"status": "inactive", "reason": "x"},
                      token_from="/manufacturer/skus").status_code == 403
        assert b.post("/manufacturer/product-lines/save", {"code": "ZZ", "name": "x", "name_en": "x"},
                      token_from="/manufacturer/skus").status_code == 403
        assert "/manufacturer/skus/new" not in b.get("/manufacturer/skus").get_data(as_text=True)
    channel = signed_in("acme", "channel")  # SKUs yes, registrations no: regulatory owns them
    assert channel.get("/manufacturer/skus/new").status_code == 200
    assert channel.get("/manufacturer/registrations/new").status_code == 403
    assert channel.get(f"/manufacturer/registrations/{registration_id}/row?edit=1").status_code == 403
    assert signed_in("acme", "qa").get("/manufacturer/registrations/new").status_code == 200


# --- validation --------------------------------------------------------------------------------

def _sku_form(session_line_id, **over):
    return {"code": "N-" + uuid.uuid4().hex[:8].upper(), "name": "冠脉导引导丝", "specification": "0.014 in × 190 cm",
            "unit": "根", "product_line_id": str(session_line_id), "registration_id": "", "udi_di": gtin(),
            "nhsa_code": "", "tax_rate": "0.13", "storage": "常温", "tracking": "lot", "shelf_life_months": "36", **over}


@pytest.mark.parametrize("field,value", [
    ("udi_di", "06901234567893"),  # wrong check digit
    ("nhsa_code", "C123"),
    ("nhsa_code", "X" + "1" * 26),
    ("tax_rate", "1.3"),
    ("tax_rate", "abc"),
    ("code", ""),
    ("code", "has space"),
    ("unit", ""),
    ("product_line_id", ""),
    ("product_line_id", "99999999"),
    ("registration_id", "99999999"),
    ("shelf_life_months", "0"),
    ("shelf_life_months", "twelve"),
    ("tracking", "batch"),
])
def test_bad_sku_values_are_shown_next_to_the_field_and_nothing_is_written(signed_in, as_tenant, field, value):
    with as_tenant("acme") as session:
        line_id = _line_id(session)
    form = _sku_form(line_id, **{field: value})
    qa = signed_in("acme", "qa")
    response = qa.post("/manufacturer/skus/new", form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in html and 'aria-invalid="true"' in html
    with as_tenant("acme") as session:
        if form["code"]:
            assert session.scalar(select(Sku).where(Sku.code == form["code"])) is None


def test_duplicate_code_and_udi_di_are_refused(signed_in, as_tenant):
    di = gtin()
    _, code = make_sku(as_tenant, udi_di=di)
    with as_tenant("acme") as session:
        line_id = _line_id(session)
    qa = signed_in("acme", "qa")
    same_code = qa.post("/manufacturer/skus/new", _sku_form(line_id, code=code))
    assert same_code.status_code == 400 and 'id="code-error"' in same_code.get_data(as_text=True)
    same_di = qa.post("/manufacturer/skus/new", _sku_form(line_id, udi_di=di))
    assert same_di.status_code == 400 and 'id="udi_di-error"' in same_di.get_data(as_text=True)


def test_nhsa_code_is_stored_compact_and_shown_in_its_two_parts(signed_in, as_tenant):
    code27 = nhsa()
    typed = "c" + code27[1:5] + " " + code27[5:20] + "-" + code27[20:]
    sku_id, _ = make_sku(as_tenant, nhsa_code=typed, tax_rate=Decimal("0.06"))
    with as_tenant("acme") as session:
        sku = session.get(Sku, sku_id)
        assert sku.nhsa_code == code27 and sku.tax_rate == Decimal("0.0600")
    html = signed_in("acme", "finance").get(f"/manufacturer/skus/{sku_id}").get_data(as_text=True)
    assert f"<code>{code27[:20]}</code> <code>{code27[20:]}</code>" in html


def test_operations_contract_for_imports(as_tenant):
    sku_id, code = make_sku(as_tenant)
    with as_tenant("acme") as session:
        sku = session.get(Sku, sku_id)
        with pytest.raises(ValueError):
            ops.save_sku(session, {"colour": "red"}, sku)
        with pytest.raises(InvalidInput) as err:
            ops.save_sku(session, {"tax_rate": Decimal("1")}, sku)
        assert err.value.field == "tax_rate"
        with pytest.raises(InvalidInput) as err:
            ops.save_sku(session, {"tax_rate": 0.13}, sku)  # floats are refused: money and rates are Decimal
        assert err.value.field == "tax_rate"
        ops.save_sku(session, {"storage": "2–8 ℃", "shelf_life_months": 24, "implant": True}, sku)
        assert (sku.storage, sku.shelf_life_months, sku.implant, sku.name) == ("2–8 ℃", 24, True, "PTCA球囊扩张导管")
        with pytest.raises(InvalidInput) as err:
            ops.save_registration(session, {"number": "国械注准X", "product_name": "x", "device_class": "III", "holder": "x",
                                            "valid_from": shanghai_today()})
        assert err.value.field == "valid_until"
        filing = ops.save_registration(session, {"number": "苏械备" + uuid.uuid4().hex[:8], "product_name": "血管鞘组",
                                                 "device_class": "I", "holder": "艾科", "valid_from": "2024-01-01"})
        assert filing.valid_until is None
        with pytest.raises(InvalidInput) as err:
            ops.save_product_line(session, {"code": "cv", "name": "重复", "name_en": "dup"})
        assert err.value.field == "code"


# --- first-business review ---------------------------------------------------------------------

def test_new_sku_waits_for_its_first_business_review_then_becomes_active(signed_in, as_tenant, product_review_chain):
    registration_id = make_registration(as_tenant)
    with as_tenant("acme") as session:
        line_id = _line_id(session, "IVD")
    channel = signed_in("acme", "channel")
    form = _sku_form(line_id, registration_id=str(registration_id))
    response = channel.post("/manufacturer/skus/new", form)
    assert response.status_code == 303
    with as_tenant("acme") as session:
        sku = session.scalar(select(Sku).where(Sku.code == form["code"]))
        sku_id = sku.id
        assert sku.status == "pending"
        assert catalog_q.sku_blocks(session, [sku_id], shanghai_today()) == {sku_id: "pending"}
        request = session.scalar(select(ApprovalRequest).where(ApprovalRequest.entity_type == "skus",
                                                               ApprovalRequest.entity_id == str(sku_id)))
        assert request.kind == "product_review" and request.status == "in_review"
        rid = request.id
    page = channel.get(f"/manufacturer/skus/{sku_id}").get_data(as_text=True)
    assert f"/manufacturer/approvals/{rid}" in page and 'id="sku-blocked"' in page
    qa = signed_in("acme", "qa")
    assert f"/manufacturer/approvals/{rid}" in qa.get("/manufacturer/approvals").get_data(as_text=True)
    decided = qa.post(f"/manufacturer/approvals/{rid}", {"action": "approve", "password": "MedChannel-demo-1"})
    assert decided.status_code == 303
    assert sku_state(as_tenant, sku_id)[0] == "active"
    with as_tenant("acme") as session:
        assert catalog_q.sku_blocks(session, [sku_id], shanghai_today()) == {}


def test_rejected_review_leaves_the_sku_rejected_and_not_reactivatable(signed_in, as_tenant, product_review_chain):
    with as_tenant("acme") as session:
        line_id = _line_id(session)
    channel = signed_in("acme", "channel")
    form = _sku_form(line_id)
    assert channel.post("/manufacturer/skus/new", form).status_code == 303
    with as_tenant("acme") as session:
        sku_id = session.scalar(select(Sku.id).where(Sku.code == form["code"]))
        rid = session.scalar(select(ApprovalRequest.id).where(ApprovalRequest.entity_id == str(sku_id),
                                                              ApprovalRequest.entity_type == "skus"))
    qa = signed_in("acme", "qa")
    assert qa.post(f"/manufacturer/approvals/{rid}", {"action": "reject", "password": "MedChannel-demo-1",
                                                      "comment": "缺少注册证"}).status_code == 303
    assert sku_state(as_tenant, sku_id)[0] == "rejected"
    again = channel.post(f"/manufacturer/skus/{sku_id}/status", {"status": "active", "reason": "再试"})
    assert again.status_code == 400 and sku_state(as_tenant, sku_id)[0] == "rejected"


def test_without_a_chain_a_new_sku_is_approved_at_once(signed_in, as_tenant):
    with as_tenant("acme") as session:
        line_id = _line_id(session, "SH")
    form = _sku_form(line_id)
    assert signed_in("acme", "channel").post("/manufacturer/skus/new", form).status_code == 303
    with as_tenant("acme") as session:
        sku = session.scalar(select(Sku).where(Sku.code == form["code"]))
        assert sku.status == "active"
        assert session.scalar(select(ApprovalRequest.status).where(ApprovalRequest.entity_id == str(sku.id),
                                                                   ApprovalRequest.entity_type == "skus")) == "approved"


# --- inline editing, deactivation, history -----------------------------------------------------

def test_inline_edit_of_a_sku_row(signed_in, as_tenant):
    sku_id, code = make_sku(as_tenant)
    channel = signed_in("acme", "channel")
    form = channel.get(f"/manufacturer/skus/{sku_id}/row?edit=1", headers=HX)
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "<html" not in html
    assert f'id="sku-{sku_id}"' in html and 'name="name"' in html and 'hx-post=' in html
    bad = channel.post(f"/manufacturer/skus/{sku_id}/row", {"name": "", "specification": "x", "unit": "根", "storage": ""},
                       token_from="/manufacturer/skus", headers=HX)
    bad_html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and f'id="sku-{sku_id}-name-error"' in bad_html and "<html" not in bad_html
    assert sku_state(as_tenant, sku_id)[1] == "PTCA球囊扩张导管"
    good = channel.post(f"/manufacturer/skus/{sku_id}/row",
                        {"name": "PTCA球囊扩张导管（快速交换）", "specification": "Ø2.5 mm × 20 mm", "unit": "支", "storage": "常温"},
                        token_from="/manufacturer/skus", headers=HX)
    row = good.get_data(as_text=True)
    assert good.status_code == 200 and "<html" not in row and "PTCA球囊扩张导管（快速交换）" in row and 'name="name"' not in row
    assert sku_state(as_tenant, sku_id)[1:] == ("PTCA球囊扩张导管（快速交换）", "支")
    with as_tenant("acme") as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "skus", AuditEvent.entity_id == str(sku_id),
                                                        AuditEvent.action == "update"))
        assert event.after == {"name": "PTCA球囊扩张导管（快速交换）", "unit": "支", "storage": "常温"}
        assert event.actor_label == "channel@acme.test"
    history = channel.get(f"/manufacturer/skus/{sku_id}").get_data(as_text=True)
    assert "PTCA球囊扩张导管（快速交换）" in history and "<del>根</del>" in history


def test_inline_edit_of_a_registration_row_keeps_dates_consistent(signed_in, as_tenant):
    registration_id = make_registration(as_tenant)
    qa = signed_in("acme", "qa")
    assert 'name="valid_until"' in qa.get(f"/manufacturer/registrations/{registration_id}/row?edit=1", headers=HX).get_data(as_text=True)
    bad = qa.post(f"/manufacturer/registrations/{registration_id}/row",
                  {"product_name": "药物洗脱冠脉支架系统", "holder": "艾科", "valid_until": "2001-01-01"},
                  token_from="/manufacturer/registrations", headers=HX)
    assert bad.status_code == 400 and f'id="registration-{registration_id}-valid_until-error"' in bad.get_data(as_text=True)
    new_until = shanghai_today() + timedelta(days=1500)
    good = qa.post(f"/manufacturer/registrations/{registration_id}/row",
                   {"product_name": "药物洗脱冠脉支架系统", "holder": "艾科医疗", "valid_until": new_until.isoformat()},
                   token_from="/manufacturer/registrations", headers=HX)
    assert good.status_code == 200 and new_until.isoformat() in good.get_data(as_text=True)
    detail = qa.get(f"/manufacturer/registrations/{registration_id}").get_data(as_text=True)
    assert "艾科医疗" in detail and "<ins>" in detail


def test_deactivate_needs_a_reason_and_blocks_the_sku(signed_in, as_tenant):
    sku_id, code = make_sku(as_tenant, registration_id=make_registration(as_tenant))
    qa = signed_in("acme", "qa")
    page = f"/manufacturer/skus/{sku_id}"
    no_reason = qa.post(f"{page}/status", {"status": "inactive", "reason": " "}, token_from=page)
    assert no_reason.status_code == 400 and 'id="reason-error"' in no_reason.get_data(as_text=True)
    assert sku_state(as_tenant, sku_id)[0] == "active"
    assert qa.post(f"{page}/status", {"status": "inactive", "reason": "停产"}, token_from=page).status_code == 303
    with as_tenant("acme") as session:
        assert catalog_q.sku_blocks(session, [sku_id], shanghai_today()) == {sku_id: "inactive"}
        event = session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "skus", AuditEvent.entity_id == str(sku_id),
                                                        AuditEvent.action == "deactivate"))
        assert event.reason == "停产" and event.after == {"status": "inactive"}
    assert "停产" in qa.get(page).get_data(as_text=True)
    assert qa.post(f"{page}/status", {"status": "active", "reason": "恢复供货"}, token_from=page).status_code == 303
    assert sku_state(as_tenant, sku_id)[0] == "active"


def test_expired_registration_blocks_the_sku_and_heads_the_warning_list(signed_in, as_tenant):
    today = shanghai_today()
    expired = make_registration(as_tenant, valid_from=today - timedelta(days=2000), valid_until=today - timedelta(days=1))
    soon = make_registration(as_tenant, valid_until=today + timedelta(days=60))
    later = make_registration(as_tenant, valid_until=today + timedelta(days=200))
    old_id, old_code = make_sku(as_tenant, registration_id=expired)
    soon_id, soon_code = make_sku(as_tenant, registration_id=soon)
    later_id, later_code = make_sku(as_tenant, registration_id=later)
    bare_id, _ = make_sku(as_tenant)
    with as_tenant("acme") as session:
        blocks = catalog_q.sku_blocks(session, [old_id, soon_id, later_id, bare_id, 99999999], today)
        assert blocks == {old_id: "registration_expired", bare_id: "no_registration", 99999999: "unknown"}
        assert catalog_q.sku_blocks(session, [old_id], today - timedelta(days=1)) == {}  # its last valid day
    html = signed_in("acme", "sales.east").get("/manufacturer/skus").get_data(as_text=True)
    warnings = html[html.index('id="registration-warnings"'):html.index("</section>", html.index('id="registration-warnings"'))]
    assert old_code in warnings and soon_code in warnings and later_code not in warnings
    assert warnings.index(old_code) < warnings.index(soon_code)


def test_sku_list_filters_by_product_line_and_status_and_answers_htmx_with_the_fragment(signed_in, as_tenant):
    with as_tenant("acme") as session:
        ivd = _line_id(session, "IVD")
    ivd_id, ivd_code = make_sku(as_tenant, product_line_id=ivd, code="ZF-IVD-" + uuid.uuid4().hex[:6])
    cv_id, cv_code = make_sku(as_tenant, code="ZF-CV-" + uuid.uuid4().hex[:6], status="inactive")
    b = signed_in("acme", "finance")
    by_line = b.get(f"/manufacturer/skus?q=ZF-&line={ivd}").get_data(as_text=True)
    assert ivd_code in by_line and cv_code not in by_line
    inactive = b.get("/manufacturer/skus?q=ZF-&status=inactive", headers=HX)
    body = inactive.get_data(as_text=True)
    assert "<html" not in body and cv_code in body and ivd_code not in body
    assert "HX-Request" in inactive.headers.get("Vary", "")
    assert "IVD-HSTNI-100" in b.get("/manufacturer/skus?q=IVD-HSTNI").get_data(as_text=True)  # the demo catalog


def test_sku_list_walks_every_row_once_by_keyset(as_tenant):
    prefix = "KS-" + uuid.uuid4().hex[:6].upper() + "-"
    for i in range(7):
        make_sku(as_tenant, code=f"{prefix}{i:02d}")
    seen, cursor, pages = [], None, 0
    with as_tenant("acme") as session:
        while True:
            page = catalog_q.skus_page(session, cursor, prefix, per_page=3)
            seen += [r.code for r in page.items]
            pages += 1
            if not page.next_cursor:
                break
            cursor = page.next_cursor
    assert pages == 3
    assert seen == [f"{prefix}{i:02d}" for i in range(7)]


def test_registration_created_on_its_page_with_errors_next_to_fields(signed_in, as_tenant):
    qa = signed_in("acme", "qa")
    number = "国械注准" + uuid.uuid4().hex[:8]
    form = {"number": number, "product_name": "经导管主动脉瓣膜系统", "device_class": "III", "holder": "艾科医疗",
            "valid_from": "2024-05-01", "valid_until": "", "scope": "用于主动脉瓣狭窄患者"}
    missing_end = qa.post("/manufacturer/registrations/new", form)
    assert missing_end.status_code == 400 and 'id="valid_until-error"' in missing_end.get_data(as_text=True)
    bad_date = qa.post("/manufacturer/registrations/new", {**form, "valid_until": "2029-02-30"})
    assert bad_date.status_code == 400 and 'id="valid_until-error"' in bad_date.get_data(as_text=True)
    with as_tenant("acme") as session:
        assert session.scalar(select(Registration).where(Registration.number == number)) is None
    created = qa.post("/manufacturer/registrations/new", {**form, "valid_until": "2029-04-30"})
    assert created.status_code == 303
    detail = qa.get(created.headers["Location"]).get_data(as_text=True)
    assert number in detail and "用于主动脉瓣狭窄患者" in detail and 'class="timeline"' in detail
    duplicate = qa.post("/manufacturer/registrations/new", {**form, "valid_until": "2029-04-30"})
    assert duplicate.status_code == 400 and 'id="number-error"' in duplicate.get_data(as_text=True)


def test_product_lines_are_added_and_renamed_with_unique_codes(signed_in, as_tenant):
    channel = signed_in("acme", "channel")
    dup = channel.post("/manufacturer/product-lines/save", {"code": "CV", "name": "重复", "name_en": "Duplicate"},
                       token_from="/manufacturer/product-lines")
    assert dup.status_code == 400 and 'id="code-error"' in dup.get_data(as_text=True)
    code = "PL" + uuid.uuid4().hex[:6].upper()
    assert channel.post("/manufacturer/product-lines/save", {"code": code, "name": "外周介入", "name_en": "Peripheral"},
                        token_from="/manufacturer/product-lines").status_code == 303
    with as_tenant("acme") as session:
        line_id = session.scalar(select(ProductLine.id).where(ProductLine.code == code))
    assert channel.post("/manufacturer/product-lines/save", {"line_id": str(line_id), "code": code, "name": "外周血管介入",
                                                             "name_en": "Peripheral vascular"},
                        token_from="/manufacturer/product-lines").status_code == 303
    assert "外周血管介入" in channel.get("/manufacturer/product-lines").get_data(as_text=True)


def test_full_edit_form_saves_and_keeps_the_status(signed_in, as_tenant):
    sku_id, code = make_sku(as_tenant)
    channel = signed_in("acme", "channel")
    page = channel.get(f"/manufacturer/skus/{sku_id}/edit").get_data(as_text=True)
    assert f'value="{code}"' in page
    with as_tenant("acme") as session:
        line_id = _line_id(session)
    form = _sku_form(line_id, code=code, name="血管鞘组", tracking="serial")
    assert channel.post(f"/manufacturer/skus/{sku_id}/edit", form).status_code == 303
    with as_tenant("acme") as session:
        sku = session.get(Sku, sku_id)
        assert (sku.name, sku.tracking, sku.status) == ("血管鞘组", "serial", "active")
