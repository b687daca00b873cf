"""Project registrations (项目报备): a dealer claims a hospital opportunity, conflicting
claims by other dealers are flagged to the manufacturer (never named to the dealer), and
the approval engine decides."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.compliance import approvals
from app.compliance.models import ApprovalChain, ApprovalRequest
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.identity.models import User
from app.orders import projects
from app.orders.models import ProjectRegistration
from tests.conftest import PASSWORD
from tests.sellout_world import authorize, dealer, hospital, sku, sellout_world  # noqa: F401

TODAY = shanghai_today()


def user(session, world, local):
    return session.scalar(select(User).where(User.email == f"{local}@{world}.test"))


def register(session, world, local, dealer_code, hospital_code, sku_codes, **extra):
    values = {"hospital_id": hospital(session, hospital_code).id, "valid_until": TODAY + timedelta(days=180),
              "expected_on": TODAY + timedelta(days=30),
              "lines": [{"sku_id": sku(session, c).id, "expected_quantity": "10"} for c in sku_codes]}
    values.update(extra)
    return projects.register_project(session, dealer(session, dealer_code), user(session, world, local), values)


@pytest.fixture(scope="module")
def chain(world, app):
    """project_registration needs the channel manager's approval in this world."""
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    with app.app_context():
        tenant = by_slug(db.session, world)
        db.session.rollback()
        with tenant_session(db.session, tenant) as session:
            set_context(session, Actor.system("test"))
            if not session.scalar(select(ApprovalChain).where(ApprovalChain.kind == "project_registration")):
                approvals.add_step(session, "project_registration", approvals.StepSpec("渠道审批", "channel_manager"))
            # a dealer registers only where it may sell: dealer1 (上海) and dealer2 (广东) are
            # also authorized at a few hospitals by name, so that both can claim one of them
            authorize(session, "D-SH-001", ["H-ZJ-001", "H-SD-001", "H-GD-002"], TODAY - timedelta(days=30),
                      TODAY + timedelta(days=365))
            authorize(session, "D-GD-001", ["H-ZJ-001"], TODAY - timedelta(days=30), TODAY + timedelta(days=365))
        db.session.remove()
    return world


def test_a_registration_without_conflict_goes_to_approval_and_is_approved(chain, as_tenant):
    world = chain
    with as_tenant(world) as session:
        r = register(session, world, "dealer1", "D-SH-001", "H-SH-002", ["SH-TAVR-23"])
        assert r.number.startswith("PR-") and r.status == "submitted" and r.conflicts == []
        request = session.get(ApprovalRequest, r.approval_request_id)
        assert request.kind == "project_registration" and request.region_id == hospital(session, "H-SH-002").region_id
        approvals.decide(session, request, user(session, world, "channel"), "approve", PASSWORD)
        assert r.status == "approved"


def test_a_rejected_registration_is_rejected(chain, as_tenant):
    world = chain
    with as_tenant(world) as session:
        r = register(session, world, "dealer1", "D-SH-001", "H-SH-003", ["SH-TAVR-26"])
        request = session.get(ApprovalRequest, r.approval_request_id)
        approvals.decide(session, request, user(session, world, "channel"), "reject", PASSWORD, comment="重复报备")
        assert r.status == "rejected"


def test_another_dealers_claim_on_the_same_hospital_and_product_is_a_conflict(chain, as_tenant):
    world = chain
    with as_tenant(world) as session:
        first = register(session, world, "dealer1", "D-SH-001", "H-ZJ-001", ["CV-DES-2518", "CV-DES-2523"])
        same_dealer = register(session, world, "dealer1", "D-SH-001", "H-ZJ-001", ["CV-DES-2518"])
        other_product = register(session, world, "dealer2", "D-GD-001", "H-ZJ-001", ["IVD-DD-100"])
        second = register(session, world, "dealer2", "D-GD-001", "H-ZJ-001", ["CV-DES-2523", "IVD-CRP-25"])
        assert same_dealer.conflicts == [] and other_product.conflicts == []
        assert [(c["number"], c["dealer_code"], c["skus"]) for c in second.conflicts] == [
            (first.number, "D-SH-001", ["CV-DES-2523"])]
        assert session.get(ApprovalRequest, second.approval_request_id).facts["conflicts"] == 1
        # the manufacturer's side-by-side view finds it both ways
        assert first.id in [o.id for o in projects.conflicting_registrations(session, second)]
        assert second.id in [o.id for o in projects.conflicting_registrations(session, first)]
        # a withdrawn claim no longer conflicts
        projects.withdraw_project(session, first, user(session, world, "dealer1"), "客户取消")
        assert first.status == "withdrawn"
        assert session.get(ApprovalRequest, first.approval_request_id).status == "withdrawn"
        third = register(session, world, "dealer2", "D-GD-001", "H-ZJ-001", ["CV-DES-2523"])
        assert third.conflicts == []  # its own dealer's claim is no conflict


def test_registration_input_is_checked(chain, as_tenant):
    world = chain
    with as_tenant(world) as session:
        h = hospital(session, "H-SD-001")
        h.departments = ["心内科", "导管室"]
        session.flush()
        cases = [
            ({"department": "眼科"}, "department"),
            ({"valid_until": TODAY - timedelta(days=1)}, "valid_until"),
            ({"lines": []}, "lines"),
            ({"lines": [{"sku_id": sku(session, "CV-GW-0141").id, "expected_quantity": "0"}]}, "expected_quantity_0"),
            ({"hospital_id": ""}, "hospital_id"),
        ]
        for extra, field in cases:
            with pytest.raises(InvalidInput) as caught:
                with session.begin_nested():
                    register(session, world, "dealer1", "D-SH-001", "H-SD-001", ["CV-GW-0141"], **extra)
            assert caught.value.field == field, (extra, caught.value.message)
        ok = register(session, world, "dealer1", "D-SH-001", "H-SD-001", ["CV-GW-0141"], department="导管室")
        assert ok.department == "导管室"


def test_a_dealer_registers_projects_only_at_hospitals_it_may_sell_to(chain, as_tenant, signed_in):
    world = chain
    with as_tenant(world) as session:
        with pytest.raises(InvalidInput) as caught:
            with session.begin_nested():
                register(session, world, "dealer1", "D-SH-001", "H-GD-001", ["CV-DES-2518"])
        assert caught.value.field == "hospital_id" and "中山大学附属第一医院" in caught.value.message
        # an authorization by name that has lapsed no longer counts
        authorize(session, "D-SH-001", ["H-GD-004"], TODAY - timedelta(days=60), TODAY - timedelta(days=1))
        with pytest.raises(InvalidInput) as caught:
            with session.begin_nested():
                register(session, world, "dealer1", "D-SH-001", "H-GD-004", ["CV-DES-2518"])
        assert caught.value.field == "hospital_id"
        gd1 = hospital(session, "H-GD-001")
        gd1.departments = ["杂交手术室"]
        gd1_id, s1 = gd1.id, sku(session, "CV-DES-2518").id
    d1 = signed_in(world, "dealer1")
    form = d1.get("/dealer/projects/new").get_data(as_text=True)
    assert "(H-SH-001)" in form and "(H-ZJ-001)" in form and "(H-GD-001)" not in form and "(H-GD-004)" not in form
    fragment = d1.get(f"/dealer/projects/new?hospital_id={gd1_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "杂交手术室" not in fragment
    refused_post = d1.post("/dealer/projects/new", {"hospital_id": gd1_id, "valid_until": (TODAY + timedelta(days=90)).isoformat(),
                                                    "sku_id_0": s1, "expected_quantity_0": "5"})
    assert refused_post.status_code == 400 and 'id="hospital_id-error"' in refused_post.get_data(as_text=True)
    assert "(H-GD-001)" in signed_in(world, "dealer2").get("/dealer/projects/new").get_data(as_text=True)


# --- pages --------------------------------------------------------------------------------

def test_dealer_registers_by_form_and_the_other_dealer_sees_only_that_a_claim_exists(chain, as_tenant, signed_in):
    world = chain
    with as_tenant(world) as session:
        hid, s1 = hospital(session, "H-GD-002").id, sku(session, "SH-LAAO-27").id
    with as_tenant(world) as session:
        hospital(session, "H-GD-002").departments = ["心内科", "心外科"]
    d1 = signed_in(world, "dealer1")
    departments = d1.get(f"/dealer/projects/new?hospital_id={hid}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert departments.lstrip().startswith('<div id="department-choice">') and "心外科" in departments
    data = {"hospital_id": hid, "valid_until": (TODAY + timedelta(days=90)).isoformat(), "sku_id_0": s1,
            "expected_quantity_0": "12", "note": "年度手术量约 40 台"}
    missing = d1.post("/dealer/projects/new", dict(data, expected_quantity_0="x"))
    assert missing.status_code == 400 and 'id="expected_quantity_0-error"' in missing.get_data(as_text=True)
    made = d1.post("/dealer/projects/new", data)
    assert made.status_code == 303
    first_url = made.headers["Location"]
    first_id = int(first_url.rsplit("/", 1)[1])
    d2 = signed_in(world, "dealer2")
    second = d2.post("/dealer/projects/new", dict(data, note="另一家"))
    assert second.status_code == 303
    page = d2.get(second.headers["Location"]).get_data(as_text=True)
    assert "已有其他经销商就这些产品报备了该医院" in page
    assert "华东医疗器械有限公司" not in page and "D-SH-001" not in page and "年度手术量" not in page
    # dealer2 cannot open dealer1's registration, nor withdraw it
    assert d2.get(first_url).status_code == 404
    assert d2.post(f"/dealer/projects/{first_id}/withdraw", {"reason": "x"}, token_from="/dealer/projects").status_code == 404
    assert "年度手术量" not in d2.get("/dealer/projects").get_data(as_text=True)
    # the manufacturer sees both, side by side
    channel = signed_in(world, "channel")
    listing = channel.get("/manufacturer/projects?conflicts=1").get_data(as_text=True)
    second_id = int(second.headers["Location"].rsplit("/", 1)[1])
    detail = channel.get(f"/manufacturer/projects/{second_id}").get_data(as_text=True)
    assert "华东医疗器械有限公司" in detail and "广州百仕达医疗器械有限公司" in detail and "年度手术量" in detail
    assert f"/manufacturer/projects/{second_id}" in listing
    assert f"/manufacturer/projects/{first_id}" in listing  # the earlier claim is flagged too
    # dealer1 learns that a later claim exists, not whose
    first_page = d1.get(first_url).get_data(as_text=True)
    assert "已有其他经销商就这些产品报备了该医院" in first_page and "广州百仕达" not in first_page
    # regional managers: south sees a Guangdong hospital's claims, east does not
    assert signed_in(world, "sales.south").get(f"/manufacturer/projects/{second_id}").status_code == 200
    assert signed_in(world, "sales.east").get(f"/manufacturer/projects/{second_id}").status_code == 404
    # dealer1 withdraws its own
    assert d1.post(f"/dealer/projects/{first_id}/withdraw", {"reason": "放弃"}, token_from=first_url).status_code == 303
    with as_tenant(world) as session:
        assert session.get(ProjectRegistration, first_id).status == "withdrawn"


def test_project_pages_refuse_the_wrong_people(chain, as_tenant, signed_in):
    world = chain
    with as_tenant(world) as session:
        r = register(session, world, "dealer1", "D-SH-001", "H-SH-001", ["CV-SH-6F"])
        rid = r.id
    assert signed_in(world, "hospital1").get("/dealer/projects").status_code == 403
    assert signed_in(world, "hospital1").get("/manufacturer/projects").status_code == 403
    assert signed_in(world, "finance").get("/manufacturer/projects").status_code == 403
    assert signed_in(world, "dealer1").get(f"/manufacturer/projects/{rid}").status_code == 403
    assert signed_in(world, "dealer2").get(f"/dealer/projects/{rid}").status_code == 404
    assert signed_in(world, "dealer1").get(f"/dealer/projects/{rid}").status_code == 200
    # another tenant: the id means nothing there
    assert signed_in("globex", "dealer1").get(f"/dealer/projects/{rid}").status_code == 404
    assert signed_in("globex", "admin").get(f"/manufacturer/projects/{rid}").status_code == 404
