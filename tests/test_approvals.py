"""Approval chains and electronic signatures: conditional routing, decisions as
signatures, delegation, SLA, and who may see or decide what."""
import re

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from app.compliance import approvals
from app.compliance.models import ApprovalRequest, AuditEvent, Signature
from app.compliance.rules import record_hash, route, step_applies
from app.identity.models import User

KIND = "test.purchase"
approvals.register_kind(KIND, "测试采购申请", (approvals.Fact("discount_pct", "折让"), approvals.Fact("amount", "金额")))

STEPS = [
    dict(position=1, name="区域经理", role="regional_manager", same_region=True),
    dict(position=2, name="渠道经理", role="channel_manager", condition_field="discount_pct", condition_op="gt", condition_value="15"),
    dict(position=3, name="财务", role="finance", condition_field="amount", condition_op="gt", condition_value="500000"),
]


def test_route_keeps_only_steps_whose_condition_holds():
    assert [s["name"] for s in route(STEPS, {"discount_pct": "18", "amount": "620000"})] == ["区域经理", "渠道经理", "财务"]
    assert [s["name"] for s in route(STEPS, {"discount_pct": "15", "amount": "500000.01"})] == ["区域经理", "财务"]
    assert [s["name"] for s in route(STEPS, {"discount_pct": "8"})] == ["区域经理"]  # a missing figure never matches


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**9, max_value=10**9),
       st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**9, max_value=10**9),
       st.sampled_from(["gt", "gte", "lt", "lte", "eq"]))
def test_conditions_compare_as_decimals(fact, value, op):
    expected = {"gt": fact > value, "gte": fact >= value, "lt": fact < value, "lte": fact <= value, "eq": fact == value}[op]
    assert step_applies("x", op, str(value), {"x": str(fact)}) is expected


@pytest.fixture(scope="module")
def chain(app):
    """The test kind's chain in acme, configured through the admin page."""
    from tests.conftest import Browser

    admin = Browser(app, "acme.localhost")
    assert admin.sign_in("admin@acme.test").status_code == 303
    for name, role, region, field, op, value in [("区域经理审核", "regional_manager", "1", "", "", ""),
                                                 ("渠道经理审核", "channel_manager", "", "discount_pct", "gt", "15"),
                                                 ("财务审核", "finance", "", "amount", "gt", "500000")]:
        response = admin.post("/manufacturer/approval-chains", {
            "kind": KIND, "name": name, "role": role, "same_region": region, "condition_field": field,
            "condition_op": op, "condition_value": value, "sla_hours": "24"})
        assert response.status_code == 303, response.get_data(as_text=True)[:400]
    return True


def _submit(as_tenant, requester="dealer1", facts=None):
    with as_tenant("acme") as session:
        user = session.scalar(select(User).where(User.email == f"{requester}@acme.test"))
        region_id = user.dealer.region_id if user.dealer else None
        req = approvals.submit(session, KIND, "测试申请 " + str(facts), user, facts or {"discount_pct": "18", "amount": "620000"},
                               region_id=region_id)
        return req.id


def _decide(browser, request_id, action, password="MedChannel-demo-1", comment="", **extra):
    page = f"/manufacturer/approvals/{request_id}"
    return browser.post(page, {"action": action, "password": password, "comment": comment, **extra})


def _state(as_tenant, request_id):
    with as_tenant("acme") as session:
        req = session.get(ApprovalRequest, request_id)
        return req.status, req.current_index, len(req.route), req.version


def test_full_chain_each_decision_a_signature_of_the_exact_version(chain, signed_in, as_tenant):
    rid = _submit(as_tenant)
    assert _state(as_tenant, rid)[:3] == ("in_review", 0, 3)
    east, channel, finance = signed_in("acme", "sales.east"), signed_in("acme", "channel"), signed_in("acme", "finance")
    assert f"/manufacturer/approvals/{rid}" in east.get("/manufacturer/approvals").get_data(as_text=True)
    assert f"/manufacturer/approvals/{rid}" not in channel.get("/manufacturer/approvals").get_data(as_text=True)
    wrong = _decide(east, rid, "approve", password="not-my-password")
    assert wrong.status_code == 400 and "密码不正确，未签署任何内容。" in wrong.get_data(as_text=True)
    assert _state(as_tenant, rid)[1] == 0
    assert _decide(channel, rid, "approve").status_code == 404  # not this step's role: not even visible
    assert _decide(east, rid, "approve").status_code == 303
    assert _decide(channel, rid, "approve").status_code == 303
    assert _state(as_tenant, rid)[:2] == ("in_review", 2)
    assert _decide(finance, rid, "approve", comment="额度内").status_code == 303
    assert _state(as_tenant, rid)[0] == "approved"
    with as_tenant("acme") as session:
        req = session.get(ApprovalRequest, rid)
        sigs = session.scalars(select(Signature).where(Signature.entity_type == "approval_requests",
                                                       Signature.entity_id == str(rid)).order_by(Signature.id)).all()
        assert [s.meaning for s in sigs] == ["approved"] * 3
        assert [s.signer_email for s in sigs] == ["sales.east@acme.test", "channel@acme.test", "finance@acme.test"]
        assert all(s.record_hash == record_hash(approvals.version_of(req)) for s in sigs)
        refused = session.scalar(select(AuditEvent).where(AuditEvent.action == "signature_refused",
                                                          AuditEvent.entity_id == str(rid)))
        assert refused is not None and refused.after["signer"] == "sales.east@acme.test"
    page = finance.get(f"/manufacturer/approvals/{rid}").get_data(as_text=True)
    assert "财务 许文静（finance@acme.test）电子签名" in page and record_hash_in(page)


def record_hash_in(html: str) -> bool:
    return bool(re.search(r"签署版本：SHA-256 [0-9a-f]{64}", html))


def test_small_request_skips_conditional_steps(chain, as_tenant):
    rid = _submit(as_tenant, facts={"discount_pct": "8", "amount": "120000"})
    assert _state(as_tenant, rid)[:3] == ("in_review", 0, 1)


def test_reject_needs_a_reason_and_ends_the_request(chain, signed_in, as_tenant):
    rid = _submit(as_tenant)
    east = signed_in("acme", "sales.east")
    no_reason = _decide(east, rid, "reject")
    assert no_reason.status_code == 400 and "请说明原因，申请人将看到。" in no_reason.get_data(as_text=True)
    assert _decide(east, rid, "reject", comment="价格低于集采中标价").status_code == 303
    assert _state(as_tenant, rid)[0] == "rejected"
    assert _decide(signed_in("acme", "channel"), rid, "approve").status_code == 404
    assert _decide(east, rid, "approve").status_code == 400  # visible to its decider, but closed


def test_return_for_changes_then_resubmit_starts_a_new_version(chain, signed_in, as_tenant):
    rid = _submit(as_tenant)
    east = signed_in("acme", "sales.east")
    assert _decide(east, rid, "return", comment="请补充招标文件").status_code == 303
    assert _state(as_tenant, rid)[0] == "returned"
    with as_tenant("acme") as session:
        req = session.get(ApprovalRequest, rid)
        requester = session.get(User, req.requester_id)
        approvals.resubmit(session, req, requester, {"discount_pct": "12", "amount": "300000"})
    assert _state(as_tenant, rid) == ("in_review", 0, 1, 2)
    assert _decide(east, rid, "approve").status_code == 303
    assert _state(as_tenant, rid)[0] == "approved"


def test_who_may_see_a_request(chain, signed_in, as_tenant):
    rid = _submit(as_tenant)
    assert "测试申请" in signed_in("acme", "dealer1").get(f"/dealer/requests/{rid}").get_data(as_text=True)
    assert signed_in("acme", "dealer2").get(f"/dealer/requests/{rid}").status_code == 404
    assert signed_in("acme", "hospital1").get(f"/dealer/requests/{rid}").status_code == 403
    assert signed_in("acme", "sales.south").get(f"/manufacturer/approvals/{rid}").status_code == 404  # other region
    assert signed_in("acme", "qa").get(f"/manufacturer/approvals/{rid}").status_code == 200  # QA/RA oversees
    assert signed_in("globex", "admin").get(f"/manufacturer/approvals/{rid}").status_code == 404
    assert signed_in("acme", "dealer1").get("/dealer/requests").status_code == 200


def test_requester_never_approves_their_own_request(chain, signed_in, as_tenant):
    rid = _submit(as_tenant, requester="sales.east", facts={"discount_pct": "1", "amount": "1"})
    with as_tenant("acme") as session:
        req = session.get(ApprovalRequest, rid)
        req.region_id = session.execute(text("SELECT id FROM regions WHERE code = 'SH'")).scalar()
    assert _decide(signed_in("acme", "sales.east"), rid, "approve").status_code == 400


def test_delegate_decides_on_behalf_while_away(chain, signed_in, as_tenant):
    rid = _submit(as_tenant)
    east = signed_in("acme", "sales.east")
    assert _decide(east, rid, "approve").status_code == 303  # now at the channel manager
    channel = signed_in("acme", "channel")
    with as_tenant("acme") as session:
        qa_id = session.scalar(select(User.id).where(User.email == "qa@acme.test"))
    today = approvals.today().isoformat()
    saved = channel.post("/manufacturer/approvals/delegate", {"to_user_id": str(qa_id), "starts_on": today,
                                                              "ends_on": today, "reason": "出差"},
                         token_from="/manufacturer/approvals")
    assert saved.status_code == 303
    qa = signed_in("acme", "qa")
    assert f"/manufacturer/approvals/{rid}" in qa.get("/manufacturer/approvals").get_data(as_text=True)
    assert "受 渠道经理 周婷 委托代为审批" in qa.get(f"/manufacturer/approvals/{rid}").get_data(as_text=True)
    assert _decide(qa, rid, "approve").status_code == 303
    with as_tenant("acme") as session:
        req = session.get(ApprovalRequest, rid)
        last = req.decisions[-1]
        assert last.on_behalf_of_id is not None and last.approver.email == "qa@acme.test"
        session.execute(text("DELETE FROM delegations"))
    backwards = channel.post("/manufacturer/approvals/delegate", {"to_user_id": str(qa_id), "starts_on": "2026-12-10",
                                                                  "ends_on": "2026-12-01"}, token_from="/manufacturer/approvals")
    assert backwards.status_code == 400 and "结束日期早于开始日期。" in backwards.get_data(as_text=True)


def test_overdue_steps_are_marked(chain, signed_in, as_tenant):
    rid = _submit(as_tenant)
    with as_tenant("acme") as session:
        session.execute(text("UPDATE approval_requests SET step_started_at = now() - interval '25 hours' WHERE id = :i"),
                        {"i": rid})
    east = signed_in("acme", "sales.east")
    assert "已超时" in east.get(f"/manufacturer/approvals/{rid}").get_data(as_text=True)
    assert "已超时" in east.get("/manufacturer/approvals").get_data(as_text=True)


def test_navigation_counts_what_waits(chain, signed_in, as_tenant):
    _submit(as_tenant)
    html = signed_in("acme", "sales.east").get("/manufacturer/").get_data(as_text=True)
    count = int(re.search(r'<span class="count"[^>]*>(\d+)</span>', html).group(1))
    with as_tenant("acme") as session:
        east = session.scalar(select(User).where(User.email == "sales.east@acme.test"))
        assert count == approvals.inbox_count(session, east) >= 1


def test_signing_with_two_step_verification(chain, signed_in, as_tenant):
    east = signed_in("acme", "sales.east")
    east.post("/account/totp", {"action": "start"}, token_from="/account")
    secret = re.search(r"<code class=\"small\">([A-Z2-7]+)</code>", east.get("/account").get_data(as_text=True)).group(1)
    bad = east.post("/account/totp", {"action": "confirm", "totp_code": "000000"}, token_from="/account")
    assert bad.status_code == 400 and "动态码不正确" in bad.get_data(as_text=True)
    assert east.post("/account/totp", {"action": "confirm", "totp_code": pyotp.TOTP(secret).now()},
                     token_from="/account").status_code == 303
    rid = _submit(as_tenant)
    no_code = _decide(east, rid, "approve")
    assert no_code.status_code == 400 and "验证器应用中的动态码不正确。" in no_code.get_data(as_text=True)
    assert _decide(east, rid, "approve", totp_code=pyotp.TOTP(secret).now()).status_code == 303
    with as_tenant("acme") as session:
        sig = session.scalar(select(Signature).where(Signature.entity_id == str(rid)))
        assert sig.second_factor is True
        user = session.scalar(select(User).where(User.email == "sales.east@acme.test"))
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "enable_totp")).all()
        assert events and all("[redacted]" in str(e.after) for e in events)
        assert user.totp_secret not in str([e.after for e in events])
    off = east.post("/account/totp", {"action": "disable", "totp_password": "MedChannel-demo-1"}, token_from="/account")
    assert off.status_code == 303


def test_signatures_and_decisions_are_append_only(chain, as_tenant):
    for statement in ("UPDATE signatures SET meaning = 'rejected'", "DELETE FROM approval_decisions"):
        with as_tenant("acme") as session:
            with pytest.raises(Exception, match="permission denied"):
                session.execute(text(statement))


def test_chain_configuration_errors_and_permissions(chain, signed_in):
    admin = signed_in("acme", "admin")
    bad = admin.post("/manufacturer/approval-chains", {"kind": KIND, "name": "x", "role": "finance",
                                                       "condition_field": "amount", "condition_op": "gt",
                                                       "condition_value": "五十万", "sla_hours": "0"})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "请输入数字。" in body and "请输入不小于 1 的整数小时。" in body
    unnamed = admin.post("/manufacturer/approval-chains", {"kind": KIND, "name": " ", "role": "finance"})
    assert "请填写步骤名称。" in unnamed.get_data(as_text=True)
    assert signed_in("acme", "finance").get("/manufacturer/approval-chains").status_code == 403
    assert signed_in("acme", "dealer1").get("/manufacturer/approvals").status_code == 403


def test_printed_record_carries_the_signatures(chain, signed_in, as_tenant, run_worker):
    import io

    import pypdf

    rid = _submit(as_tenant, facts={"discount_pct": "5", "amount": "1000"})
    east = signed_in("acme", "sales.east")
    assert _decide(east, rid, "approve", comment="同意").status_code == 303
    printed = east.post(f"/manufacturer/approvals/{rid}", {"action": "print"})
    assert printed.status_code == 303
    run_worker()
    job_page = east.get(printed.headers["Location"]).get_data(as_text=True)
    assert "/documents/" in job_page, _job_error(as_tenant)
    qa = signed_in("acme", "qa")  # an auditor may fetch it; the decider who asked for it too
    link = re.search(r'href="(/documents/\d+)"', qa.get(printed.headers["Location"]).get_data(as_text=True)).group(1)
    text_ = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(qa.get(link).data)).pages)
    assert "华东区域经理 沈浩" in text_ and "电子签名" in text_ and "SHA-256" in text_
    assert signed_in("acme", "dealer2").get(link).status_code == 404


def _job_error(as_tenant):
    from app.compliance.models import Job

    with as_tenant("acme") as session:
        return [(j.kind, j.status, j.error) for j in session.scalars(select(Job).order_by(Job.id.desc()).limit(3))]
