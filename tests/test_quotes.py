"""Quotes (询价/报价): the dealer asks, the manufacturer answers within the band with a
validity date, the dealer orders at the quoted prices or declines; scoping of the pages."""
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital
from app.core.i18n import shanghai_today
from app.identity.models import User
from app.orders import quotes as quote_ops
from app.orders.models import Order, Quote


@pytest.fixture()
def acme(as_tenant):
    with as_tenant("acme") as s:
        return {**{c: i for c, i in s.execute(select(Dealer.code, Dealer.id))},
                **{c: i for c, i in s.execute(select(Hospital.code, Hospital.id))},
                **{c: i for c, i in s.execute(select(Sku.code, Sku.id))},
                **{e: i for e, i in s.execute(select(User.email, User.id))}}


def _request(as_tenant, acme, lines=None, hospital="H-SH-001"):
    with as_tenant("acme") as s:
        quote = quote_ops.request_quote(s, s.get(Dealer, acme["D-SH-001"]), s.get(User, acme["dealer1@acme.test"]),
                                        lines or [{"sku_id": acme["CV-INF-30"], "quantity": 4},
                                                  {"sku_id": acme["CV-SH-6F"], "quantity": 2}],
                                        hospital_id=acme[hospital] if hospital else None, note="下月手术备货")
        return quote.id


def test_quote_request_refuses_products_the_dealer_may_not_sell(as_tenant, acme):
    with pytest.raises(quote_ops.QuoteRefused) as err:
        _request(as_tenant, acme, [{"sku_id": acme["IVD-DD-100"], "quantity": 1}, {"sku_id": acme["CV-INF-30"], "quantity": 0}])
    assert {(i, f) for i, f, _m in err.value.problems} == {(0, "sku_id"), (1, "quantity")}


def test_answer_prices_must_lie_within_the_band_and_need_a_validity_date(as_tenant, acme):
    quote_id = _request(as_tenant, acme, hospital=None)
    with as_tenant("acme") as s:
        quote = s.get(Quote, quote_id)
        suggested = quote_ops.suggested_prices(s, quote)
        first, second = quote.lines
        channel = s.get(User, acme["channel@acme.test"])
        with pytest.raises(quote_ops.QuoteRefused) as err:
            quote_ops.answer_quote(s, quote, channel, {first.id: "1", second.id: "abc"}, "")
        assert {(i, f) for i, f, _m in err.value.problems} == {(None, "valid_until"), (0, "unit_price"), (1, "unit_price")}
        floor = suggested[first.id].band.floor
        quote_ops.answer_quote(s, quote, channel, {first.id: str(floor), second.id: str(suggested[second.id].price)},
                               (shanghai_today() + timedelta(days=10)).isoformat())
        assert quote.status == "answered" and first.unit_price == floor and "channel" not in (first.price_note or "x")


def test_answered_quote_converts_into_an_order_at_the_quoted_prices(as_tenant, acme):
    quote_id = _request(as_tenant, acme)
    with as_tenant("acme") as s:
        quote = s.get(Quote, quote_id)
        answers = quote_ops.suggested_prices(s, quote)
        prices = {line.id: str(answers[line.id].band.floor if answers[line.id].band else answers[line.id].price)
                  for line in quote.lines}
        quote_ops.answer_quote(s, quote, s.get(User, acme["channel@acme.test"]), prices, shanghai_today() + timedelta(days=5))
    with as_tenant("acme") as s:
        quote = s.get(Quote, quote_id)
        order = quote_ops.convert_quote(s, quote, s.get(User, acme["dealer1@acme.test"]), idempotency_key=f"quote-{quote_id}")
        assert quote.status == "converted" and quote.order_id == order.id and order.quote_id == quote.id
        by_sku = {line.sku_id: line for line in order.lines}
        for qline in quote.lines:
            assert by_sku[qline.sku_id].unit_price == qline.unit_price
            assert (by_sku[qline.sku_id].price_source_type, by_sku[qline.sku_id].price_source_id) == ("quote_lines", qline.id)
        assert order.status == "allocated"
        again = quote_ops.convert_quote(s, quote, s.get(User, acme["dealer1@acme.test"]))
        assert again.id == order.id


def test_expired_quote_cannot_be_ordered_and_a_declined_one_is_closed(as_tenant, acme):
    quote_id = _request(as_tenant, acme)
    with as_tenant("acme") as s:
        quote = s.get(Quote, quote_id)
        prices = {line.id: str(a.price) for line in quote.lines for a in [quote_ops.suggested_prices(s, quote)[line.id]]}
        quote_ops.answer_quote(s, quote, s.get(User, acme["channel@acme.test"]), prices, shanghai_today())
    with as_tenant("acme") as s:
        quote = s.get(Quote, quote_id)
        with pytest.raises(quote_ops.QuoteRefused):
            quote_ops.convert_quote(s, quote, s.get(User, acme["dealer1@acme.test"]), day=shanghai_today() + timedelta(days=1))
        quote_ops.decline_quote(s, quote, s.get(User, acme["dealer1@acme.test"]), "价格不合适")
        assert quote.status == "declined"
        with pytest.raises(quote_ops.QuoteRefused):
            quote_ops.convert_quote(s, quote, s.get(User, acme["dealer1@acme.test"]))


def test_quote_pages_from_request_to_order(signed_in, acme, as_tenant):
    dealer = signed_in("acme", "dealer1")
    assert dealer.get("/dealer/quotes/new").status_code == 200
    made = dealer.post("/dealer/quotes/new", {"sku_id": [str(acme["CV-INF-30"]), ""], "quantity": ["3", ""],
                                              "hospital_id": str(acme["H-SH-001"])})
    assert made.status_code == 303
    quote_path = made.headers["Location"]
    quote_id = int(quote_path.rsplit("/", 1)[1])
    with as_tenant("acme") as s:
        number = s.get(Quote, quote_id).number
    assert number in dealer.get("/dealer/quotes").get_data(as_text=True)
    assert "CV-INF-30" in dealer.get(quote_path).get_data(as_text=True)

    channel = signed_in("acme", "channel")
    mpath = f"/manufacturer/quotes/{quote_id}"
    page = channel.get(mpath).get_data(as_text=True)
    assert "price-" in page
    with as_tenant("acme") as s:
        line_id = s.get(Quote, quote_id).lines[0].id
    refused = channel.post(f"{mpath}/answer", {f"price-{line_id}": "0.01", "valid_until": ""}, token_from=mpath)
    assert refused.status_code == 422
    answered = channel.post(f"{mpath}/answer", {f"price-{line_id}": "350.00",
                                                "valid_until": (shanghai_today() + timedelta(days=7)).isoformat()},
                            token_from=mpath)
    assert answered.status_code == 303
    assert signed_in("acme", "qa").post(f"{mpath}/answer", {}, token_from=mpath).status_code == 403

    page = dealer.get(quote_path).get_data(as_text=True)
    assert "¥350.00" in page
    ordered = dealer.post(f"{quote_path}/convert", {"idempotency_key": f"qp-{quote_id}"}, token_from=quote_path)
    assert ordered.status_code == 303 and "/dealer/orders/" in ordered.headers["Location"]
    with as_tenant("acme") as s:
        order = s.scalar(select(Order).where(Order.quote_id == quote_id))
        assert order.lines[0].unit_price == Decimal("350.00")

    # scoping
    assert signed_in("acme", "dealer2").get(quote_path).status_code == 404
    assert signed_in("acme", "sales.south").get(mpath).status_code == 404
    assert signed_in("globex", "dealer1").get(quote_path).status_code == 404
    assert signed_in("acme", "hospital1").get(quote_path).status_code == 403
    assert signed_in("acme", "hospital1").get(mpath).status_code == 403


def test_one_quote_ordered_twice_at_once_makes_one_order(as_tenant, acme):
    import threading

    from sqlalchemy import func

    quote_id = _request(as_tenant, acme)
    with as_tenant("acme") as s:
        quote = s.get(Quote, quote_id)
        answers = quote_ops.suggested_prices(s, quote)
        prices = {line.id: str(answers[line.id].band.floor if answers[line.id].band else answers[line.id].price)
                  for line in quote.lines}
        quote_ops.answer_quote(s, quote, s.get(User, acme["channel@acme.test"]), prices, shanghai_today() + timedelta(days=5))
    barrier, orders, errors = threading.Barrier(2), [], []

    def convert(key):
        try:
            with as_tenant("acme") as s:
                quote = s.get(Quote, quote_id)
                barrier.wait(10)
                orders.append(quote_ops.convert_quote(s, quote, s.get(User, acme["dealer1@acme.test"]),
                                                      idempotency_key=key).id)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=convert, args=(f"quote-race-{quote_id}-{n}",)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(orders) == 2 and orders[0] == orders[1]
    with as_tenant("acme") as s:
        assert s.scalar(select(func.count()).select_from(Order).where(Order.quote_id == quote_id)) == 1
