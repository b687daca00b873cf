"""The finance pages, through the test client: what each does, the errors it shows by
field, and who may open it — for every route, another tenant, another dealer, a hospital
user and a regional manager outside the region cannot read or change what is not theirs."""
import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.core.i18n import shanghai_today
from app.finance import payments as payment_ops
from app.finance.invoices import LineDraft, _issue
from app.finance.models import Invoice, InvoiceApplication, Payment
from app.identity.models import User
from tests.finance_world import fresh_dealer, invoice

D = Decimal


@pytest.fixture()
def world(as_tenant, app):
    """An east-China dealer (with an owner and a finance clerk) with an invoice 10 days
    overdue and partly paid, one not yet due, an open credit note and an
    unidentified payment; and a north-China dealer with an invoice."""
    with as_tenant("acme") as s:
        finance = s.scalar(select(User).where(User.email == "finance@acme.test"))
        east, north = fresh_dealer(s, "SH", users=True), fresh_dealer(s, "BJ")
        today = shanghai_today()
        late = invoice(s, east, [("1130.00", "0.13")], day=today - timedelta(days=70))
        fresh = invoice(s, east, [("2260.00", "0.13"), ("1030.00", "0.03")])
        payment = payment_ops.record_payment(s, finance, {"dealer_id": east.id, "received_on": today.isoformat(),
                                                          "amount": "500.00", "reference": late.number})
        note = _issue(s, "credit_note", east, [LineDraft("价格调整", D("0.13"), D("300.00"))], today, reason="price_adjustment",
                      prefix="CNT")
        unknown = Payment(number=f"RC-U-{uuid.uuid4().hex[:8]}", dealer_id=None, received_on=today, amount=D("88.00"),
                          applied_amount=D("0"), status="unapplied", source="import", payer_name="某代付公司")
        s.add(unknown)
        north_invoice = invoice(s, north, [("4520.00", "0.13")])
        s.flush()
        application = s.scalar(select(InvoiceApplication).where(InvoiceApplication.payment_id == payment.id))
        out = {"east": east.id, "east_code": east.code.lower(), "north": north.id, "late": late.id,
               "late_number": late.number, "fresh": fresh.id, "fresh_number": fresh.number, "payment": payment.id,
               "payment_number": payment.number, "note": note.id, "unknown": unknown.id, "north_invoice": north_invoice.id,
               "north_number": north_invoice.number, "application": application.id}
    with as_tenant("globex") as s:
        out["globex_max"] = max(s.scalar(select(func.max(Invoice.id))) or 0, s.scalar(select(func.max(Payment.id))) or 0)
    return out


def text(response) -> str:
    return response.get_data(as_text=True)


# --- manufacturer pages: behaviour ------------------------------------------------------------------

def test_the_invoice_list_filters_by_status_dealer_kind_and_dates(signed_in, world):
    b = signed_in("acme", "finance")
    overdue = text(b.get(f"/manufacturer/invoices?status=overdue&dealer={world['east']}"))
    assert world["late_number"] in overdue and world["fresh_number"] not in overdue
    open_ = text(b.get(f"/manufacturer/invoices?status=open&dealer={world['east']}&kind=invoice"))
    assert world["late_number"] in open_ and world["fresh_number"] in open_ and "CNT-" not in open_
    notes = text(b.get(f"/manufacturer/invoices?kind=credit_note&dealer={world['east']}"))
    assert "CNT-" in notes and world["late_number"] not in notes
    today = shanghai_today()
    recent = text(b.get(f"/manufacturer/invoices?dealer={world['east']}&since={(today - timedelta(days=5)).isoformat()}"))
    assert world["fresh_number"] in recent and world["late_number"] not in recent
    assert world["fresh_number"] in text(b.get(f"/manufacturer/invoices?q={world['fresh_number'][-6:]}"))
    bad = b.get("/manufacturer/invoices?since=2026-13-01&until=9999-12-31&dealer=²&status=x")
    assert bad.status_code == 400 and "YYYY-MM-DD" in text(bad)
    htmx = b.get("/manufacturer/invoices?status=overdue", headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and "<html" not in text(htmx) and "Vary" in htmx.headers


def test_the_invoice_page_shows_lines_matches_and_saves_the_tax_number(signed_in, world, as_tenant):
    b = signed_in("acme", "finance")
    page = text(b.get(f"/manufacturer/invoices/{world['late']}"))
    assert world["late_number"] in page and world["payment_number"] in page and "¥1,130.00" in page
    fresh = text(b.get(f"/manufacturer/invoices/{world['fresh']}"))
    assert "¥3,290.00" in fresh and "13 %" in fresh and "3 %" in fresh
    url = f"/manufacturer/invoices/{world['fresh']}/tax-number"
    bad = b.post(url, {"tax_invoice_no": "12ab"}, token_from=f"/manufacturer/invoices/{world['fresh']}")
    assert bad.status_code == 400 and 'aria-invalid="true"' in text(bad) and "12ab" in text(bad)
    number = f"2531{uuid.uuid4().int % 10**16:016d}"
    ok = b.post(url, {"tax_invoice_no": number}, token_from=f"/manufacturer/invoices/{world['fresh']}")
    assert ok.status_code == 303
    with as_tenant("acme") as s:
        assert s.get(Invoice, world["fresh"]).tax_invoice_no == number
    assert number in text(b.get(f"/manufacturer/invoices?q={number}"))


def test_recording_a_payment_by_hand_then_matching_it_on_the_matching_page(signed_in, world, as_tenant):
    b = signed_in("acme", "finance")
    bad = b.post("/manufacturer/payments/new", {"dealer_id": str(world["east"]), "received_on": "2026-02-30",
                                                "amount": "abc"})
    assert bad.status_code == 400 and 'id="received_on-error"' in text(bad)
    response = b.post("/manufacturer/payments/new", {"dealer_id": str(world["east"]),
                                                     "received_on": shanghai_today().isoformat(), "amount": "1,000.00",
                                                     "reference": "货款", "bank_ref": f"T-{uuid.uuid4().hex[:10]}"})
    assert response.status_code == 303 and "/match" in response.headers["Location"]
    match_url = response.headers["Location"].replace("http://acme.localhost", "")
    page = text(b.get(match_url))
    assert world["fresh_number"] in page and 'value="3290.00"' in page  # the open amount by default
    fresh = world["fresh"]
    preview = b.post(match_url + "/preview", {"pick": [str(fresh)], f"amount_{fresh}": "3290.00"}, token_from=match_url,
                     headers={"HX-Request": "true"})
    assert preview.status_code == 200 and "match-summary" in text(preview) and "<html" not in text(preview)
    assert "¥1,000.00" in text(preview) and 'class="error"' in text(preview)  # more than the payment has
    over = b.post(match_url, {"pick": [str(fresh)], f"amount_{fresh}": "3290.00"}, token_from=match_url)
    assert over.status_code == 400 and 'class="form-errors"' in text(over)
    done = b.post(match_url, {"pick": [str(fresh)], f"amount_{fresh}": "1000.00"}, token_from=match_url)
    assert done.status_code == 303
    payment_id = int(re.search(r"/payments/(\d+)/match", match_url).group(1))
    with as_tenant("acme") as s:
        payment, inv = s.get(Payment, payment_id), s.get(Invoice, fresh)
        assert payment.status == "applied" and inv.settled_amount == D("1000.00")
    assert b.get(match_url).status_code == 404  # nothing left to match


def test_reversing_from_the_payment_page_needs_a_reason(signed_in, world, as_tenant):
    b = signed_in("acme", "finance")
    page_url = f"/manufacturer/payments/{world['payment']}"
    url = f"/manufacturer/applications/{world['application']}/reverse"
    bad = b.post(url, {"reason": ""}, token_from=page_url)
    assert bad.status_code == 400 and "reverse-form" in text(bad) and 'class="error"' in text(bad)
    ok = b.post(url, {"reason": "付款人填错发票号"}, token_from=page_url)
    assert ok.status_code == 303
    with as_tenant("acme") as s:
        assert s.get(Invoice, world["late"]).settled_amount == 0
        assert s.get(Payment, world["payment"]).status == "unapplied"
    assert "付款人填错发票号" in text(b.get(page_url))


def test_assigning_an_unidentified_payment_and_matching_again(signed_in, world, as_tenant):
    b = signed_in("acme", "finance")
    page_url = f"/manufacturer/payments/{world['unknown']}"
    assert "某代付公司" in text(b.get(page_url))
    bad = b.post(f"{page_url}/assign", {"dealer_id": "abc"}, token_from=page_url)
    assert bad.status_code == 400
    assert b.post(f"{page_url}/assign", {"dealer_id": str(world["east"])}, token_from=page_url).status_code == 303
    with as_tenant("acme") as s:
        assert s.get(Payment, world["unknown"]).dealer_id == world["east"]
    assert b.post("/manufacturer/payments/auto-match", {}, token_from="/manufacturer/payments").status_code == 303


def test_a_credit_note_left_open_is_applied_on_its_own_matching_page(signed_in, world, as_tenant):
    b = signed_in("acme", "finance")
    url = f"/manufacturer/invoices/{world['note']}/match"
    assert world["fresh_number"] in text(b.get(url))
    assert b.post(url, {"pick": [str(world["fresh"])], f"amount_{world['fresh']}": "300.00"}).status_code == 303
    with as_tenant("acme") as s:
        assert s.get(Invoice, world["note"]).status == "settled"
        assert s.get(Invoice, world["fresh"]).settled_amount == D("300.00")
    assert b.get(f"/manufacturer/invoices/{world['fresh']}/match").status_code == 404  # an invoice is not a source


def test_the_receivables_page_and_its_export(signed_in, world):
    b = signed_in("acme", "finance")
    page = text(b.get(f"/manufacturer/receivables?dealer={world['east']}&days=30"))
    assert "华东" in page and f"{world['east_code'].upper()}" in page and "receivables-dealers" in page
    assert b.get("/manufacturer/receivables?days=7&region=²").status_code == 200  # odd filters are ignored
    export = b.post("/manufacturer/exports", {"list": "receivables", "request_id": uuid.uuid4().hex, "days": "90"},
                    token_from="/manufacturer/receivables")
    assert export.status_code == 303 and "/jobs/" in export.headers["Location"]


def test_exports_hold_what_the_list_shows_in_the_users_reach(as_tenant, world):
    from app.compliance.exports import EXPORTS

    with as_tenant("acme") as s:
        south = s.scalar(select(User).where(User.email == "sales.south@acme.test"))
        east = s.scalar(select(User).where(User.email == "sales.east@acme.test"))
        for name in ("invoices", "payments", "receivables"):
            assert not [r for r in EXPORTS[name].rows(s, south, {"dealer": str(world["east"])})], name
        rows = list(EXPORTS["invoices"].rows(s, east, {"dealer": str(world["east"]), "status": "overdue"}))
        assert [r[0] for r in rows] == [world["late_number"]]


# --- dealer pages ------------------------------------------------------------------------------------------

def test_the_dealer_sees_its_invoices_what_is_overdue_and_its_payments(signed_in, world):
    owner = signed_in("acme", f"{world['east_code']}.owner")
    page = text(owner.get("/dealer/invoices"))
    assert world["late_number"] in page and world["fresh_number"] in page and "¥1,130.00" in page
    assert "form-errors" in page  # the overdue warning
    assert world["late_number"] in text(owner.get("/dealer/invoices?status=overdue"))
    assert world["fresh_number"] not in text(owner.get("/dealer/invoices?status=overdue"))
    detail = text(owner.get(f"/dealer/invoices/{world['late']}"))
    assert world["payment_number"] in detail and "manufacturer" not in detail.split("<main")[1]
    payment = text(owner.get(f"/dealer/payments/{world['payment']}"))
    assert world["late_number"] in payment
    assert world["payment_number"] in text(owner.get("/dealer/payments"))
    finance = signed_in("acme", f"{world['east_code']}.finance")
    assert finance.get("/dealer/invoices").status_code == 200
    assert "receivable" in text(finance.get("/dealer/"))


# --- who may open what --------------------------------------------------------------------------------------

def _manufacturer_routes(w):
    return [("GET", "/manufacturer/invoices"), ("GET", f"/manufacturer/invoices/{w['late']}"),
            ("POST", f"/manufacturer/invoices/{w['late']}/tax-number"),
            ("GET", f"/manufacturer/invoices/{w['note']}/match"), ("POST", f"/manufacturer/invoices/{w['note']}/match"),
            ("POST", f"/manufacturer/invoices/{w['note']}/match/preview"),
            ("GET", "/manufacturer/payments"), ("GET", "/manufacturer/payments/new"), ("POST", "/manufacturer/payments/new"),
            ("POST", "/manufacturer/payments/auto-match"), ("GET", "/manufacturer/payments/import"),
            ("GET", f"/manufacturer/payments/{w['payment']}"), ("POST", f"/manufacturer/payments/{w['payment']}/assign"),
            ("GET", f"/manufacturer/payments/{w['payment']}/match"), ("POST", f"/manufacturer/payments/{w['payment']}/match"),
            ("POST", f"/manufacturer/payments/{w['payment']}/match/preview"),
            ("POST", f"/manufacturer/applications/{w['application']}/reverse"), ("GET", "/manufacturer/receivables")]


WRITES = ("tax-number", "/match", "/new", "auto-match", "/import", "/assign", "/reverse")


def _call(b, method, url):
    if method == "GET":
        return b.get(url)
    return b.post(url, {"csrf_token": _token(b)})


def _token(b):
    from tests.conftest import csrf_token

    return csrf_token(text(b.get("/account")))


def test_manufacturer_roles_on_every_finance_route(signed_in, world):
    """Finance and admin do everything; a channel manager reads; QA/RA and after-sales
    staff see nothing; dealers and hospitals are in the wrong portal."""
    users = {who: signed_in("acme", who) for who in ("channel", "qa", "service", "dealer1", "hospital1")}
    for method, url in _manufacturer_routes(world):
        write = any(w in url for w in WRITES)
        for who, b in users.items():
            expected = 200 if who == "channel" and not write else 403
            status = _call(b, method, url).status_code
            assert status == expected, (who, method, url, status)


def test_a_regional_manager_outside_the_region_finds_nothing(signed_in, world):
    south, east = signed_in("acme", "sales.south"), signed_in("acme", "sales.east")
    for url in (f"/manufacturer/invoices/{world['late']}", f"/manufacturer/payments/{world['payment']}",
                f"/manufacturer/payments/{world['unknown']}"):
        assert south.get(url).status_code == 404, url
    assert east.get(f"/manufacturer/invoices/{world['late']}").status_code == 200
    assert east.get(f"/manufacturer/payments/{world['unknown']}").status_code == 404  # payer unknown: finance only
    assert east.get(f"/manufacturer/invoices/{world['north_invoice']}").status_code == 404
    for url in ("/manufacturer/invoices", "/manufacturer/payments", "/manufacturer/receivables"):
        listed = text(south.get(f"{url}?dealer={world['east']}"))
        assert world["late_number"] not in listed and world["payment_number"] not in listed
        assert world["east_code"].upper() not in listed, url
    assert world["north_number"] not in text(east.get("/manufacturer/invoices"))


def test_another_tenant_cannot_read_or_change_them(signed_in, world):
    assert world["late"] > world["globex_max"] and world["payment"] > world["globex_max"]
    for who in ("finance", "admin"):
        b = signed_in("globex", who)
        for method, url in _manufacturer_routes(world):
            if url.endswith(("/invoices", "/payments", "/receivables", "/new", "/auto-match", "/import")):
                continue  # globex's own lists and forms
            assert _call(b, method, url).status_code == 404, (who, url)
        assert world["late_number"] not in text(b.get("/manufacturer/invoices"))
    dealer = signed_in("globex", "dealer1")
    assert dealer.get(f"/dealer/invoices/{world['late']}").status_code == 404
    assert dealer.get(f"/dealer/payments/{world['payment']}").status_code == 404


def test_another_dealer_and_others_cannot_read_a_dealers_invoices(signed_in, world):
    routes = ["/dealer/invoices", f"/dealer/invoices/{world['late']}", "/dealer/payments",
              f"/dealer/payments/{world['payment']}"]
    other = signed_in("acme", "dealer2")
    assert other.get(routes[1]).status_code == 404 and other.get(routes[3]).status_code == 404
    assert world["late_number"] not in text(other.get(routes[0]))
    assert world["payment_number"] not in text(other.get(routes[2]))
    for who in ("dealer1.sales", "hospital1", "finance"):  # sales staff, a hospital, the manufacturer
        b = signed_in("acme", who)
        for url in routes:
            assert b.get(url).status_code == 403, (who, url)
    owner = signed_in("acme", f"{world['east_code']}.owner")
    assert owner.get(f"/dealer/invoices/{world['north_invoice']}").status_code == 404
