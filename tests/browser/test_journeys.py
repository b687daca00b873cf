"""Main journeys in a real headless Chromium, at desktop width and at 375 px."""
import pytest

from tests.browser.conftest import shot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page, base, email, password=PASSWORD):
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit].primary")


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("local,portal,heading", [
    ("admin", "manufacturer", "工作台"),
    ("dealer1", "dealer", "华东医疗器械有限公司"),
    ("hospital1", "hospital", "复旦大学附属中山医院"),
])
def test_sign_in_lands_in_each_portal(page_for, viewport, local, portal, heading):
    name, size = viewport
    page, base = page_for("acme", size)
    sign_in(page, base, f"{local}@acme.test")
    page.wait_for_url(f"**/{portal}/")
    assert page.locator("h1").first.inner_text() == heading
    assert no_sideways_scroll(page)
    if name == "phone":
        assert not page.locator("nav.nav-wide").is_visible()
        page.click("details.menu summary")
        assert page.locator("details.menu nav a", has_text="我的账号").is_visible()
    else:
        assert page.locator("nav.nav-wide a", has_text="我的账号").is_visible()
    shot(page, f"{portal}-{name}")


def test_wrong_password_shows_the_error_in_place(page_for, viewport):
    name, size = viewport
    page, base = page_for("acme", size)
    sign_in(page, base, "admin@acme.test", "wrong-password-1")
    assert page.locator(".form-errors").inner_text() == "邮箱或密码不正确。"
    assert page.url.endswith("/login")
    shot(page, f"login-error-{name}")


def test_language_switch_to_english_and_back(page_for, viewport):
    name, size = viewport
    page, base = page_for("acme", size)
    sign_in(page, base, "sales.east@acme.test")
    page.wait_for_url("**/manufacturer/")
    page.click("form.locale-switch button[value=en]")
    page.wait_for_load_state()
    assert page.locator("h1").first.inner_text() == "Dashboard"
    assert page.locator("html").get_attribute("lang") == "en"
    assert no_sideways_scroll(page)
    shot(page, f"manufacturer-en-{name}")
    page.click("form.locale-switch button[value=zh_CN]")
    page.wait_for_load_state()
    assert page.locator("h1").first.inner_text() == "工作台"


def test_dealer_search_updates_results_in_place(page_for, viewport):
    name, size = viewport
    page, base = page_for("acme", size)
    sign_in(page, base, "channel@acme.test")
    page.wait_for_url("**/manufacturer/")
    page.goto(f"{base}/manufacturer/dealers")
    page.evaluate("window.__samePage = true")
    page.fill("input[name=q]", "深圳")
    page.wait_for_url("**q=%E6%B7%B1%E5%9C%B3**")
    page.wait_for_function("document.querySelectorAll('#results tbody tr').length === 1")
    assert "深圳安宁医疗科技有限公司" in page.locator("#results").inner_text()
    assert page.evaluate("window.__samePage === true")  # htmx swapped the results, no reload
    assert no_sideways_scroll(page)
    shot(page, f"dealers-search-{name}")


def test_sign_out(page_for):
    page, base = page_for("acme")
    sign_in(page, base, "finance@acme.test")
    page.wait_for_url("**/manufacturer/")
    page.click("nav.nav-wide ~ .topbar-right button:has-text('退出'), .topbar-right button:has-text('退出')")
    page.wait_for_url("**/login")
    assert "您已退出登录。" in page.locator(".flashes").inner_text()
    page.goto(f"{base}/manufacturer/")
    assert page.url.split("?")[0].endswith("/login")


def test_audit_export_shows_progress_then_a_download(page_for, worker_env):
    import subprocess
    import sys

    from tests.conftest import ROOT

    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=worker_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        page, base = page_for("acme")
        sign_in(page, base, "qa@acme.test")
        page.wait_for_url("**/manufacturer/")
        page.goto(f"{base}/manufacturer/audit")
        page.select_option("select[name=entity_type]", "users")
        page.wait_for_url("**entity_type=users**")
        page.click("form.export button[value=pdf]")
        page.wait_for_url("**/jobs/*")
        page.wait_for_selector("a.button.primary[href^='/documents/']", timeout=60_000)
        assert "已完成" in page.locator("section.job").inner_text()
        shot(page, "audit-export-done")
        with page.expect_download() as download:
            page.click("a.button.primary[href^='/documents/']")
        assert download.value.suggested_filename.endswith(".pdf")
    finally:
        worker.terminate()
        worker.wait(10)


def test_regional_manager_signs_an_approval(page_for, viewport, as_tenant):
    from sqlalchemy import select

    from app.compliance import approvals
    from app.identity.models import User

    name, size = viewport
    with as_tenant("acme") as session:
        dealer_user = session.scalar(select(User).where(User.email == "dealer1@acme.test"))
        req = approvals.submit(session, "price_request", f"瑞金医院 · 冠脉球囊特价（{name}）", dealer_user,
                               {"discount_pct": "6", "amount": "88000.00"}, ("dealers", dealer_user.dealer_id),
                               dealer_user.dealer.region_id)
        rid = req.id
    page, base = page_for("acme", size)
    sign_in(page, base, "sales.east@acme.test")
    page.wait_for_url("**/manufacturer/")
    page.goto(f"{base}/manufacturer/approvals")
    page.click(f"a[href='/manufacturer/approvals/{rid}']")
    page.fill("textarea[name=comment]", "同意，按集采价执行")
    page.fill("input[name=password]", "wrong-password-1")
    page.click("button[value=approve]")
    assert "密码不正确，未签署任何内容。" in page.locator(".field.has-error .error").inner_text()
    page.fill("input[name=password]", PASSWORD)
    page.click("button[value=approve]")
    page.wait_for_selector(".signature")
    assert "已同意" in page.locator("h2").first.inner_text()
    assert "华东区域经理 沈浩（sales.east@acme.test）电子签名" in page.locator(".signature").inner_text()
    assert no_sideways_scroll(page)
    shot(page, f"approval-signed-{name}")
