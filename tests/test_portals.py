"""Pages: scoping of the channel lists, keyset pagination, htmx fragments, security
headers, language, health."""
import re

from sqlalchemy import select

from app.channel.models import Dealer, Region
from app.core.pagination import decode_cursor, encode_cursor


def test_admin_sees_all_dealers_regional_manager_only_their_region(signed_in):
    admin = signed_in("acme", "admin").get("/manufacturer/dealers").get_data(as_text=True)
    east = signed_in("acme", "sales.east").get("/manufacturer/dealers").get_data(as_text=True)
    assert "北京康泰医疗器械有限公司" in admin and "华东医疗器械有限公司" in admin
    assert "华东医疗器械有限公司" in east and "江苏恒康医疗供应链有限公司" in east
    assert "北京康泰医疗器械有限公司" not in east and "广州百仕达医疗器械有限公司" not in east


def test_regional_manager_hospitals_are_scoped_too(signed_in):
    south = signed_in("acme", "sales.south").get("/manufacturer/hospitals").get_data(as_text=True)
    assert "中山大学附属第一医院" in south and "深圳市人民医院" in south
    assert "北京协和医院" not in south and "复旦大学附属中山医院" not in south


def test_regional_manager_cannot_widen_scope_with_a_filter(signed_in, as_tenant):
    with as_tenant("acme") as session:
        jjj = session.scalar(select(Region.id).where(Region.code == "JJJ"))
    east = signed_in("acme", "sales.east").get(f"/manufacturer/dealers?region={jjj}").get_data(as_text=True)
    assert "北京康泰医疗器械有限公司" not in east
    assert "没有符合条件的经销商。" in east


def test_dealer_and_hospital_dashboards_show_only_their_own_organisation(signed_in):
    d1 = signed_in("acme", "dealer1").get("/dealer/").get_data(as_text=True)
    d2 = signed_in("acme", "dealer2").get("/dealer/").get_data(as_text=True)
    assert "华东医疗器械有限公司" in d1 and "李娜" in d1 and "广州百仕达" not in d1
    assert "广州百仕达医疗器械有限公司" in d2 and "李娜" not in d2
    h1 = signed_in("acme", "hospital1").get("/hospital/").get_data(as_text=True)
    h2 = signed_in("acme", "hospital2").get("/hospital/").get_data(as_text=True)
    assert "复旦大学附属中山医院" in h1 and "安贞" not in h1
    assert "首都医科大学附属北京安贞医院" in h2 and "中山医院" not in h2
    g1 = signed_in("globex", "dealer1").get("/dealer/").get_data(as_text=True)
    assert "广东粤新医疗器械有限公司" in g1 and "华东医疗器械" not in g1


def test_search_filters_dealers(signed_in):
    page = signed_in("acme", "channel").get("/manufacturer/dealers?q=苏州").get_data(as_text=True)
    assert "苏州德尔医疗科技有限公司" in page and "北京康泰" not in page
    by_code = signed_in("acme", "channel").get("/manufacturer/dealers?q=D-GD").get_data(as_text=True)
    assert "深圳安宁医疗科技有限公司" in by_code and "华东医疗器械" not in by_code


def test_keyset_pages_walk_every_row_once(app, fresh_tenant, as_tenant, browser):
    from app.channel import operations as channel_ops
    from app.identity.models import User
    from app.identity.operations import hash_password

    tenant = fresh_tenant()
    with as_tenant(tenant) as session:
        cn = channel_ops.add_region(session, "CN", "中国", "China")
        east = channel_ops.add_region(session, "EAST", "华东", "East", cn)
        for i in range(123):
            session.add(Dealer(code=f"D{i:04d}", name=f"测试经销商{i % 7}号-{i:04d}", region_id=east.id))
        session.add(User(email="admin@x.test", name="A", portal="manufacturer", roles=["admin"],
                         password_hash=hash_password("Password-123")))
    b = browser(tenant.slug)
    assert b.sign_in("admin@x.test", "Password-123").status_code == 303
    seen, url, pages = [], "/manufacturer/dealers", 0
    while url:
        html = b.get(url).get_data(as_text=True)
        seen += re.findall(r'data-label="[^"]+">(D\d{4})</td>', html)
        pages += 1
        nxt = re.search(r'href="([^"]*after=[^"]+)" hx-get="[^"]*" hx-target="#results" hx-push-url="true" rel="next"', html)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
    assert pages == 3
    assert sorted(seen) == [f"D{i:04d}" for i in range(123)]
    assert len(set(seen)) == 123


def test_tampered_cursor_shows_first_page():
    assert decode_cursor("not-base64!!", 2) is None
    assert decode_cursor(encode_cursor(["a"]), 2) is None
    assert decode_cursor(encode_cursor(["名称", 5]), 2) == ["名称", 5]
    assert decode_cursor(None, 2) is None


def test_htmx_request_gets_the_fragment_and_vary(signed_in):
    b = signed_in("acme", "admin")
    full = b.get("/manufacturer/dealers?q=康")
    frag = b.get("/manufacturer/dealers?q=康", headers={"HX-Request": "true", "HX-Target": "results"})
    assert "<html" in full.get_data(as_text=True)
    body = frag.get_data(as_text=True)
    assert "<html" not in body and "<table" in body and "北京康泰医疗器械有限公司" in body
    assert "HX-Request" in frag.headers.get("Vary", "")
    assert "HX-Request" in full.headers.get("Vary", "")
    boosted = b.get("/manufacturer/dealers", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in boosted.get_data(as_text=True)


def test_pages_carry_defensive_headers_and_htmx_config(browser):
    response = browser("acme").get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"]
    html = response.get_data(as_text=True)
    config = re.search(r'<meta name="htmx-config" content="([^"]+)"', html).group(1).replace("&#34;", '"')
    assert '"selfRequestsOnly":true' in config and '"allowEval":false' in config and '"allowScriptTags":false' in config
    assert "htmx-2.0.11.min.js" in html
    assert "<script>" not in html  # no inline scripts at all


def test_user_content_cannot_smuggle_htmx_attributes(fresh_tenant, as_tenant, browser):
    from app.identity.models import User
    from app.identity.operations import hash_password

    tenant = fresh_tenant()
    evil = '<img src=x hx-get="/logout" hx-trigger="load">'
    with as_tenant(tenant) as session:
        session.add(User(email="admin@x.test", name=evil, portal="manufacturer", roles=["admin"],
                         password_hash=hash_password("Password-123")))
    b = browser(tenant.slug)
    b.sign_in("admin@x.test", "Password-123")
    html = b.get("/manufacturer/users").get_data(as_text=True)
    assert 'hx-get="/logout"' not in html
    assert "&lt;img src=x hx-get=" in html


def test_chinese_by_default_english_on_request(browser, signed_in):
    b = browser("acme")
    assert "登录" in b.get("/login").get_data(as_text=True)
    english = b.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert "Sign in" in english and "登录" not in english.replace("医械渠道通", "")
    admin = signed_in("acme", "admin")
    switched = admin.post("/locale", {"locale": "en", "next": "/manufacturer/dealers"}, token_from="/manufacturer/")
    assert switched.status_code == 303 and switched.headers["Location"].endswith("/manufacturer/dealers")
    page = admin.get("/manufacturer/dealers").get_data(as_text=True)
    assert "Dealers" in page and "East China" in page
    back = admin.post("/locale", {"locale": "zh_CN", "next": "/manufacturer/"}, token_from="/manufacturer/")
    assert back.status_code == 303
    assert "经销商" in admin.get("/manufacturer/dealers").get_data(as_text=True)


def test_language_choice_is_remembered_for_the_user(signed_in):
    admin = signed_in("acme", "qa")
    admin.post("/locale", {"locale": "en", "next": "/manufacturer/"}, token_from="/manufacturer/")
    again = signed_in("acme", "qa")  # a new session
    assert "Dashboard" in again.get("/manufacturer/").get_data(as_text=True)
    again.post("/locale", {"locale": "zh_CN", "next": "/manufacturer/"}, token_from="/manufacturer/")


def test_translation_catalogues_are_complete():
    from app.core.catalogs import missing

    assert missing() == {"zh_CN": [], "en": []}


def test_healthz_reports_database_and_redis(browser):
    response = browser(None, host="localhost").get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "ok"}
    assert browser("acme").get("/healthz").json["database"] == "ok"


def test_api_is_wired_and_tenant_scoped(browser):
    assert browser("acme").get("/api/v1/").json == {"api": "v1", "tenant": "acme", "authenticated": False}
    assert browser(None, host="nope.localhost").get("/api/v1/").status_code == 404


def test_dashboard_counts_follow_scope(signed_in, as_tenant):
    from sqlalchemy import func, select

    from app.channel.models import Dealer, Region

    admin = signed_in("acme", "admin").get("/manufacturer/").get_data(as_text=True)
    east = signed_in("acme", "sales.east").get("/manufacturer/").get_data(as_text=True)
    figure = lambda html: int(re.search(r'<span class="figure">(\d+)</span><span>在用经销商', html).group(1))
    with as_tenant("acme") as session:  # other tests onboard dealers too: count what is there
        active = select(func.count()).select_from(Dealer).join(Region).where(Dealer.status == "active")
        everywhere = session.scalar(active)
        east_path = session.scalar(select(Region.path).where(Region.code == "EAST"))
        in_east = session.scalar(active.where(Region.path.startswith(east_path)))
    assert figure(admin) == everywhere >= 38
    assert figure(east) == in_east >= 13 and in_east < everywhere
    assert "最近变更" in admin and "最近变更" not in east


def test_account_page_changes_password_with_errors_next_to_fields(signed_in):
    b = signed_in("acme", "service")
    wrong = b.post("/account", {"current_password": "nope", "password": "Another-pass-9", "confirm": "Another-pass-9"})
    assert wrong.status_code == 400 and "当前密码不正确。" in wrong.get_data(as_text=True)
    mismatch = b.post("/account", {"current_password": "MedChannel-demo-1", "password": "Another-pass-9",
                                   "confirm": "Another-pass-8"})
    assert "两次输入的密码不一致。" in mismatch.get_data(as_text=True)


def test_compliance_pages_are_closed_to_dealers_hospitals_and_other_tenants(signed_in):
    for local in ("dealer1", "hospital1"):
        b = signed_in("acme", local)
        for path in ("/manufacturer/audit", "/manufacturer/jobs", "/manufacturer/approvals", "/manufacturer/approval-chains"):
            assert b.get(path).status_code == 403, (local, path)
    globex = signed_in("globex", "admin").get("/manufacturer/audit?entity_type=dealers").get_data(as_text=True)
    assert "广东粤新医疗器械有限公司" in globex and "华东医疗器械有限公司" not in globex
    assert signed_in("acme", "hospital1").get("/dealer/requests").status_code == 403


def test_navigation_shows_exactly_the_pages_the_user_may_open(signed_in):
    def links(local):
        html = signed_in("acme", local).get("/account").get_data(as_text=True)
        nav = html[html.index('class="nav nav-wide"'):html.index("</nav>")]
        return set(re.findall(r'href="(/[^"]*)"', nav))

    assert links("finance") == {"/manufacturer/", "/manufacturer/dealers", "/manufacturer/hospitals",
                                "/manufacturer/skus", "/manufacturer/regions", "/manufacturer/authorizations",
                                "/manufacturer/price-lists", "/manufacturer/expiry", "/manufacturer/imports", "/manufacturer/approvals",
                                "/manufacturer/consignment", "/manufacturer/stock", "/manufacturer/warehouses",
                                "/manufacturer/sell-out", "/manufacturer/channel-stock", "/manufacturer/orders",
                                "/manufacturer/quotes", "/manufacturer/shipments", "/manufacturer/returns", "/account",
                                # money: special prices, finance, rebates
                                "/manufacturer/price-requests", "/manufacturer/invoices", "/manufacturer/payments",
                                "/manufacturer/receivables", "/manufacturer/statements", "/manufacturer/statements/disputes",
                                "/manufacturer/two-invoice", "/manufacturer/rebate-policies", "/manufacturer/rebate-settlements",
                                "/manufacturer/rebate-ledger", "/manufacturer/rebate-claims", "/manufacturer/price-protections"}
    assert {"/manufacturer/users", "/manufacturer/jobs", "/manufacturer/approval-chains",
            "/manufacturer/audit"} <= links("admin")
    assert links("qa") >= {"/manufacturer/audit"} and "/manufacturer/users" not in links("qa")
    assert links("service") >= {"/manufacturer/installed-base", "/manufacturer/service-plans", "/manufacturer/service-visits"}
    assert {"/manufacturer/tickets", "/manufacturer/service-times", "/manufacturer/sla-policies"} <= links("service")
    assert "/manufacturer/sla-policies" not in links("sales.east") and "/manufacturer/tickets" in links("sales.east")
    assert links("dealer1") == {"/dealer/", "/dealer/requests", "/dealer/profile", "/dealer/qualifications",
                                "/dealer/authorizations", "/dealer/prices", "/dealer/surgery-reports", "/dealer/sell-out",
                                "/dealer/channel-stock", "/dealer/projects", "/dealer/orders", "/dealer/quotes",
                                "/dealer/deliveries", "/dealer/returns", "/account", "/dealer/price-requests",
                                "/dealer/invoices", "/dealer/payments", "/dealer/statements", "/dealer/rebates",
                                "/dealer/rebate-ledger", "/dealer/rebate-claims",
                                # after-sales
                                "/dealer/equipment", "/dealer/service-visits", "/dealer/tickets", "/dealer/recalls"}
    # sales staff order and see rebates, not the books
    assert links("dealer1.sales") == links("dealer1") - {"/dealer/invoices", "/dealer/payments", "/dealer/statements"}
    assert links("hospital1") == {"/hospital/", "/hospital/products", "/hospital/surgery-reports", "/hospital/stock",
                                  "/hospital/deliveries", "/hospital/lots", "/account",
                                  # after-sales
                                  "/hospital/equipment", "/hospital/service-visits", "/hospital/tickets",
                                  "/hospital/recalls"}
