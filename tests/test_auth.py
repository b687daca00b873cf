"""Sign-in, sessions bound to their tenant, portals kept apart, CSRF, throttling,
password reset, invitations and deactivation."""
import re

import pytest
from sqlalchemy import select

from app.compliance.models import AuditEvent
from app.identity import operations as ops
from app.identity.models import OutboxMessage, User
from tests.conftest import PASSWORD, csrf_token

PORTAL_PAGES = {"manufacturer": "/manufacturer/", "dealer": "/dealer/", "hospital": "/hospital/"}


@pytest.mark.parametrize("local,portal", [("admin", "manufacturer"), ("finance", "manufacturer"),
                                          ("dealer1", "dealer"), ("hospital1", "hospital")])
def test_each_user_lands_in_their_own_portal(browser, local, portal):
    b = browser("acme")
    response = b.sign_in(f"{local}@acme.test")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(PORTAL_PAGES[portal])
    assert b.get(PORTAL_PAGES[portal]).status_code == 200


@pytest.mark.parametrize("local,forbidden", [
    ("dealer1", ["/manufacturer/", "/manufacturer/dealers", "/manufacturer/users", "/hospital/"]),
    ("hospital1", ["/manufacturer/", "/manufacturer/hospitals", "/dealer/"]),
    ("admin", ["/dealer/", "/hospital/"]),
])
def test_portals_are_closed_to_other_kinds_of_user(signed_in, local, forbidden):
    b = signed_in("acme", local)
    for path in forbidden:
        assert b.get(path).status_code == 403, path


def test_roles_are_checked_per_page(signed_in):
    finance = signed_in("acme", "finance")
    assert finance.get("/manufacturer/dealers").status_code == 200
    assert finance.get("/manufacturer/users").status_code == 403
    assert finance.get("/manufacturer/users/new").status_code == 403


def test_signed_out_visitor_is_sent_to_sign_in(browser):
    response = browser("acme").get("/manufacturer/dealers?q=x")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_wrong_password_and_unknown_email_get_the_same_translated_answer(browser):
    b = browser("acme")
    wrong = b.sign_in("admin@acme.test", "not-the-password-1")
    unknown = b.sign_in("nobody@acme.test", "not-the-password-1")
    assert wrong.status_code == unknown.status_code == 401
    assert "邮箱或密码不正确。" in wrong.get_data(as_text=True)
    assert "邮箱或密码不正确。" in unknown.get_data(as_text=True)


def test_empty_and_malformed_sign_in_shows_errors_next_to_fields(browser):
    response = browser("acme").post("/login", {"email": "not-an-address", "password": ""})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "请输入有效的邮箱地址。" in body and "此项为必填项。" in body


def test_acme_user_cannot_sign_in_on_globex(browser):
    response = browser("globex").sign_in("admin@acme.test")
    assert response.status_code == 401


def test_globex_session_cookie_is_worthless_on_acme(app, signed_in, browser):
    globex = signed_in("globex", "admin")
    stolen = globex.cookie().value
    acme = browser("acme")
    acme.client.set_cookie("session", stolen, domain="acme.localhost")
    response = acme.get("/manufacturer/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    # and the same cookie still works where it was issued
    assert globex.get("/manufacturer/").status_code == 200


def test_session_bound_to_tenant_even_if_cookie_were_shared(app, signed_in):
    """Defence in depth: the user loader also checks the tenant recorded at sign-in."""
    from flask import g, session

    from app.identity.loader import load_user
    from tenants.registry import by_slug
    from app.core.db import db

    with app.test_request_context("/", base_url="http://acme.localhost"):
        acme = by_slug(db.session, "acme")
        globex = by_slug(db.session, "globex")
        g.tenant = acme
        session["tenant_id"] = globex.id
        assert load_user("1") is None


def test_every_post_route_requires_csrf(app, signed_in):
    admin = signed_in("acme", "admin")
    posts = [r for r in app.url_map.iter_rules() if "POST" in r.methods]
    assert len(posts) >= 8
    for rule in posts:
        path = re.sub(r"<int:\w+>", "1", rule.rule).replace("<token>", "x").replace("<entity>", "skus")
        response = admin.client.post(path, base_url=admin.base_url, data={"reason": "x", "email": "a@b.test"})
        assert response.status_code == 400, rule.rule
        assert "表单已过期" in response.get_data(as_text=True)


def test_sign_in_is_throttled_after_repeated_failures(app, browser):
    b = browser("acme")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert b.sign_in("channel@acme.test", "wrong-password-1").status_code == 401
    locked = b.sign_in("channel@acme.test", PASSWORD)
    assert locked.status_code == 429
    assert "登录失败次数过多" in locked.get_data(as_text=True)
    # another address is not locked by it
    assert browser("acme").sign_in("qa@acme.test").status_code == 303


def test_sign_in_and_out_are_audited(signed_in, as_tenant):
    b = signed_in("acme", "service")
    b.post("/logout", token_from="/manufacturer/")
    with as_tenant("acme") as session:
        user = session.scalar(select(User).where(User.email == "service@acme.test"))
        actions = [e.action for e in session.scalars(
            select(AuditEvent).where(AuditEvent.entity_type == "users", AuditEvent.entity_id == str(user.id))
            .order_by(AuditEvent.seq.desc()).limit(2))]
    assert actions == ["sign_out", "sign_in"]
    assert b.get("/manufacturer/").status_code == 302


def test_next_parameter_cannot_leave_the_site_or_the_portal(browser):
    for target in ["//evil.example/x", "https://evil.example/", "/dealer/", "/\\evil.example"]:
        b = browser("acme")
        page = b.get(f"/login?next={target}")
        response = b.post("/login", {"email": "admin@acme.test", "password": PASSWORD, "next": target,
                                     "csrf_token": csrf_token(page.get_data(as_text=True))})
        assert response.headers["Location"].endswith("/manufacturer/"), target
    b = browser("acme")
    response = b.post("/login", {"email": "admin@acme.test", "password": PASSWORD, "next": "/manufacturer/hospitals"},
                      token_from="/login")
    assert response.headers["Location"].endswith("/manufacturer/hospitals")


def _newest_mail(as_tenant, to):
    with as_tenant("acme") as session:
        mail = session.scalar(select(OutboxMessage).where(OutboxMessage.to_address == to).order_by(OutboxMessage.id.desc()))
        return mail and (mail.subject, mail.body)


def test_password_reset_by_signed_link(browser, as_tenant):
    b = browser("acme")
    assert b.post("/password/forgot", {"email": "hospital2@acme.test"}).status_code == 200
    subject, body = _newest_mail(as_tenant, "hospital2@acme.test")
    assert "重置" in subject
    link = re.search(r"http://acme\.localhost(/password/reset/\S+)", body).group(1)
    assert b.get(link).status_code == 200
    weak = b.post(link, {"password": "short", "confirm": "short"})
    assert weak.status_code == 400 and "密码至少需要" in weak.get_data(as_text=True)
    done = b.post(link, {"password": "New-password-42", "confirm": "New-password-42"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/hospital/")
    # the link is single-use, the old password is gone, the new one works
    assert "已被使用或已失效" in browser("acme").get(link).get_data(as_text=True)
    assert browser("acme").sign_in("hospital2@acme.test").status_code == 401
    assert browser("acme").sign_in("hospital2@acme.test", "New-password-42").status_code == 303
    # put the demo password back for other tests
    b2 = browser("acme")
    b2.sign_in("hospital2@acme.test", "New-password-42")
    assert b2.post("/account", {"current_password": "New-password-42", "password": PASSWORD,
                                "confirm": PASSWORD}).status_code == 303


def test_reset_for_unknown_address_says_the_same_and_sends_nothing(browser, as_tenant):
    response = browser("acme").post("/password/forgot", {"email": "ghost@acme.test"})
    assert response.status_code == 200
    assert "如果该邮箱对应某个账号" in response.get_data(as_text=True)
    assert _newest_mail(as_tenant, "ghost@acme.test") is None


def test_expired_and_forged_reset_tokens_are_refused(app, as_tenant):
    from dataclasses import replace

    with as_tenant("acme") as session:
        tenant = session.info["tenant"]
        user = session.scalar(select(User).where(User.email == "qa@acme.test"))
        token = ops.make_token(app.secret_key, tenant, ops.RESET, user)
        with pytest.raises(ops.IdentityError, match="已过期|expired"):
            ops.user_for_token(session, app.secret_key, tenant, ops.RESET, token, max_age=-1)
        with pytest.raises(ops.IdentityError):
            ops.user_for_token(session, app.secret_key, tenant, ops.INVITE, token, max_age=3600)
        globex = replace(tenant, slug="globex")
        with pytest.raises(ops.IdentityError):
            ops.user_for_token(session, app.secret_key, globex, ops.RESET, token, max_age=3600)


def test_admin_invites_a_dealer_user_who_accepts(signed_in, browser, as_tenant):
    from app.channel.models import Dealer

    with as_tenant("acme") as session:
        dealer_id = session.scalar(select(Dealer.id).where(Dealer.code == "D-JS-001"))
    admin = signed_in("acme", "admin")
    missing = admin.post("/manufacturer/users/new", {"email": "new.sales@acme.test", "name": "吴新", "portal": "dealer",
                                                     "roles": ["dealer_sales"], "dealer_id": "0", "hospital_id": "0"})
    assert missing.status_code == 400 and "请选择该用户所属的经销商。" in missing.get_data(as_text=True)
    wrong_role = admin.post("/manufacturer/users/new", {"email": "new.sales@acme.test", "name": "吴新", "portal": "dealer",
                                                        "roles": ["finance"], "dealer_id": str(dealer_id)})
    assert "所选角色不适用于该类用户。" in wrong_role.get_data(as_text=True)
    ok = admin.post("/manufacturer/users/new", {"email": "New.Sales@acme.test", "name": "吴新", "portal": "dealer",
                                                "roles": ["dealer_sales"], "dealer_id": str(dealer_id)})
    assert ok.status_code == 303
    again = admin.post("/manufacturer/users/new", {"email": "new.sales@acme.test", "name": "吴新", "portal": "dealer",
                                                   "roles": ["dealer_sales"], "dealer_id": str(dealer_id)})
    assert "该邮箱已被其他用户使用。" in again.get_data(as_text=True)
    subject, body = _newest_mail(as_tenant, "new.sales@acme.test")
    link = re.search(r"http://acme\.localhost(/invitation/\S+)", body).group(1)
    invitee = browser("acme")
    assert invitee.sign_in("new.sales@acme.test", "anything-1").status_code == 401  # not accepted yet
    accepted = invitee.post(link, {"password": "Welcome-2026", "confirm": "Welcome-2026"})
    assert accepted.status_code == 303 and accepted.headers["Location"].endswith("/dealer/")
    page = invitee.get("/dealer/").get_data(as_text=True)
    assert "江苏恒康医疗供应链有限公司" in page


def test_deactivation_needs_a_reason_ends_sessions_and_is_audited(signed_in, as_tenant):
    victim = signed_in("acme", "dealer1.sales")
    with as_tenant("acme") as session:
        user_id = session.scalar(select(User.id).where(User.email == "dealer1.sales@acme.test"))
    admin = signed_in("acme", "admin")
    page = f"/manufacturer/users/{user_id}"
    no_reason = admin.post(f"{page}/active", {"active": "0", "reason": ""}, token_from=page)
    assert no_reason.status_code == 400 and "此项为必填项。" in no_reason.get_data(as_text=True)
    done = admin.post(f"{page}/active", {"active": "0", "reason": "离职"}, token_from=page)
    assert done.status_code == 303
    assert victim.get("/dealer/").status_code == 302  # the open session is over
    with as_tenant("acme") as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "users",
                                                        AuditEvent.entity_id == str(user_id),
                                                        AuditEvent.action == "deactivate"))
        assert event.reason == "离职" and event.before == {"active": True} and event.after == {"active": False}
        assert event.actor_label == "admin@acme.test"
    history = admin.get(page).get_data(as_text=True)
    assert "已停用" in history and "离职" in history
    assert admin.post(f"{page}/active", {"active": "1", "reason": "返聘"}, token_from=page).status_code == 303
    assert signed_in("acme", "dealer1.sales").get("/dealer/").status_code == 200


def test_admin_cannot_deactivate_themself(signed_in, as_tenant):
    with as_tenant("acme") as session:
        user_id = session.scalar(select(User.id).where(User.email == "admin@acme.test"))
    admin = signed_in("acme", "admin")
    page = f"/manufacturer/users/{user_id}"
    response = admin.post(f"{page}/active", {"active": "0", "reason": "test"}, token_from=page)
    assert response.status_code == 400 and "不能停用自己的账号。" in response.get_data(as_text=True)


def test_user_pages_of_another_tenant_are_404(signed_in, as_tenant):
    with as_tenant("globex") as session:
        globex_ids = set(session.scalars(select(User.id)))
    with as_tenant("acme") as session:
        acme_ids = set(session.scalars(select(User.id)))
    admin = signed_in("acme", "admin")
    missing = max(acme_ids | globex_ids) + 1000
    assert admin.get(f"/manufacturer/users/{missing}").status_code == 404
