"""Authorizations (授权): overlap refusal, 逐级授权, revocation and extension, the
sellability gate, the letter PDF, and who may see which authorization."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.catalog.models import ProductLine, Registration, Sku
from app.channel import authorizations as auth_ops
from app.channel.models import Authorization, Dealer, Hospital, Qualification, Region
from app.compliance.models import AuditEvent, Job
from app.core.errors import InvalidInput


@pytest.fixture()
def acme(as_tenant):
    """Ids of the named acme world, by code."""
    with as_tenant("acme") as s:
        return {
            **{c: i for c, i in s.execute(select(Dealer.code, Dealer.id))},
            **{c: i for c, i in s.execute(select(Hospital.code, Hospital.id))},
            **{f"line:{c}": i for c, i in s.execute(select(ProductLine.code, ProductLine.id))},
            **{c: i for c, i in s.execute(select(Sku.code, Sku.id))},
            **{f"region:{c}": i for c, i in s.execute(select(Region.code, Region.id))},
        }


def _window(year: int, months: int = 12):
    start = date(year, 1, 1)
    return {"valid_from": start, "valid_until": start + timedelta(days=30 * months)}


def _create(as_tenant, **values):
    with as_tenant("acme") as s:
        auth = auth_ops.create_authorization(s, values)
        return auth.id, auth.code


def _count(as_tenant):
    with as_tenant("acme") as s:
        return s.scalar(select(func.count()).select_from(Authorization))


def test_overlapping_exclusive_authorization_is_refused_with_the_other_dealer_and_code(as_tenant, acme):
    first_id, first_code = _create(as_tenant, dealer_id=acme["D-SH-001"], product_line_id=acme["line:CV"],
                                   region_id=acme["region:SH"], exclusive=True, **_window(2031))
    before = _count(as_tenant)
    with pytest.raises(InvalidInput) as err:
        _create(as_tenant, dealer_id=acme["D-SH-002"], sku_ids=[acme["CV-DES-2518"]],
                hospital_ids=[acme["H-SH-001"]], **_window(2031, 3))
    assert first_code in err.value.message and "华东医疗器械有限公司" in err.value.message
    assert _count(as_tenant) == before  # nothing written
    # outside the window, another region, or another line: fine
    _create(as_tenant, dealer_id=acme["D-SH-002"], product_line_id=acme["line:CV"], region_id=acme["region:SH"],
            **_window(2033))
    _create(as_tenant, dealer_id=acme["D-SH-002"], product_line_id=acme["line:CV"], region_id=acme["region:ZJ"],
            exclusive=True, **_window(2031))
    _create(as_tenant, dealer_id=acme["D-SH-002"], product_line_id=acme["line:IVD"], region_id=acme["region:EAST"],
            **_window(2031))
    # the same dealer may hold overlapping authorizations
    _create(as_tenant, dealer_id=acme["D-SH-001"], sku_ids=[acme["CV-DES-2518"]], region_id=acme["region:SH-C"],
            exclusive=True, **_window(2031))


def test_an_exclusive_authorization_may_not_cover_another_dealers_existing_one(as_tenant, acme):
    _, code = _create(as_tenant, dealer_id=acme["D-GD-002"], product_line_id=acme["line:SH"],
                      hospital_ids=[acme["H-GD-004"]], **_window(2034))
    with pytest.raises(InvalidInput) as err:
        _create(as_tenant, dealer_id=acme["D-GD-001"], product_line_id=acme["line:SH"], region_id=acme["region:SOUTH"],
                exclusive=True, **_window(2034, 1))
    assert code in err.value.message and "深圳安宁医疗科技有限公司" in err.value.message


def test_bad_input_names_the_field(as_tenant, acme):
    cases = [
        ({"dealer_id": acme["D-SH-001"], "product_line_id": acme["line:CV"], "region_id": acme["region:SH"],
          "valid_from": "2030-05-01", "valid_until": "2030-04-01"}, "valid_until"),
        ({"dealer_id": acme["D-SH-001"], "product_line_id": acme["line:CV"], "sku_ids": [acme["CV-DES-2518"]],
          "region_id": acme["region:SH"], "valid_from": "2030-01-01", "valid_until": "2030-02-01"}, "product_line_id"),
        ({"dealer_id": acme["D-SH-001"], "product_line_id": acme["line:CV"], "valid_from": "2030-01-01",
          "valid_until": "2030-02-01"}, "region_id"),
        ({"dealer_id": acme["D-SH-001"], "product_line_id": acme["line:CV"], "region_id": acme["region:SH"],
          "valid_from": "1 May", "valid_until": "2030-02-01"}, "valid_from"),
        ({"dealer_id": 999999, "product_line_id": acme["line:CV"], "region_id": acme["region:SH"],
          "valid_from": "2030-01-01", "valid_until": "2030-02-01"}, "dealer_id"),
        ({"dealer_id": acme["D-SH-001"], "sku_ids": "1 2 999999", "region_id": acme["region:SH"],
          "valid_from": "2030-01-01", "valid_until": "2030-02-01"}, "sku_ids"),
    ]
    for values, field in cases:
        with pytest.raises(InvalidInput) as err:
            _create(as_tenant, **values)
        assert err.value.field == field, (values, err.value.message)


def test_inactive_dealer_cannot_be_authorized(as_tenant, acme):
    with as_tenant("acme") as s:
        s.get(Dealer, acme["D-HN-001"]).status = "inactive"
    try:
        with pytest.raises(InvalidInput) as err:
            _create(as_tenant, dealer_id=acme["D-HN-001"], product_line_id=acme["line:CV"],
                    region_id=acme["region:HN"], **_window(2030))
        assert err.value.field == "dealer_id"
    finally:
        with as_tenant("acme") as s:
            s.get(Dealer, acme["D-HN-001"]).status = "active"


def test_second_tier_dealer_must_stay_within_its_upstreams_authorization(as_tenant, acme):
    with as_tenant("acme") as s:
        s.get(Dealer, acme["D-JS-002"]).upstream_dealer_id = None
    with pytest.raises(InvalidInput) as err:
        _create(as_tenant, dealer_id=acme["D-JS-002"], product_line_id=acme["line:IVD"],
                region_id=acme["region:JS-SZ"], **_window(2035))
    assert "上级经销商" in err.value.message
    with as_tenant("acme") as s:
        s.get(Dealer, acme["D-JS-002"]).upstream_dealer_id = acme["D-JS-001"]
    _create(as_tenant, dealer_id=acme["D-JS-001"], product_line_id=acme["line:IVD"], region_id=acme["region:JS"],
            exclusive=True, **_window(2035))
    before = _count(as_tenant)
    for outside in ({"region_id": acme["region:ZJ"]}, {"region_id": acme["region:EAST"]},
                    {"valid_from": date(2034, 12, 1)}, {"valid_until": date(2036, 6, 1)}):
        values = dict(dealer_id=acme["D-JS-002"], product_line_id=acme["line:IVD"], region_id=acme["region:JS-SZ"],
                      **_window(2035, 6))
        values.update(outside)
        with pytest.raises(InvalidInput) as err:
            _create(as_tenant, **values)
        assert "江苏恒康医疗供应链有限公司" in err.value.message, outside
    assert _count(as_tenant) == before
    # inside: allowed, and the upstream's exclusive authorization is not a conflict
    _create(as_tenant, dealer_id=acme["D-JS-002"], sku_ids=[acme["IVD-HSTNI-100"]], hospital_ids=[acme["H-JS-002"]],
            **_window(2035, 6))


def test_revoke_and_extend_are_audited_with_their_reason_and_extension_rechecks_overlap(as_tenant, acme):
    a_id, _ = _create(as_tenant, dealer_id=acme["D-ZJ-001"], product_line_id=acme["line:SH"], region_id=acme["region:ZJ"],
                      exclusive=True, valid_from=date(2036, 1, 1), valid_until=date(2036, 6, 30))
    _, b_code = _create(as_tenant, dealer_id=acme["D-SD-001"], product_line_id=acme["line:SH"],
                        region_id=acme["region:ZJ-HZ"], valid_from=date(2036, 9, 1), valid_until=date(2036, 12, 31))
    with as_tenant("acme") as s:
        auth = s.get(Authorization, a_id)
        with pytest.raises(InvalidInput) as err:
            auth_ops.extend_authorization(s, auth, date(2036, 10, 1), "续签")
        assert b_code in err.value.message
        with pytest.raises(InvalidInput):
            auth_ops.extend_authorization(s, auth, date(2036, 3, 1), "缩短")
        auth_ops.extend_authorization(s, auth, "2036-08-31", "年度续签")
        assert auth.valid_until == date(2036, 8, 31)
    with as_tenant("acme") as s:
        auth = s.get(Authorization, a_id)
        with pytest.raises(InvalidInput):
            auth_ops.revoke_authorization(s, auth, "  ")
        auth_ops.revoke_authorization(s, auth, "经销商违约")
        with pytest.raises(InvalidInput):
            auth_ops.revoke_authorization(s, auth, "again")
    with as_tenant("acme") as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.entity_type == "authorizations",
                                                         AuditEvent.entity_id == str(a_id)).order_by(AuditEvent.seq)))
        assert [e.reason for e in events if e.reason] == ["年度续签", "经销商违约"]
        assert events[0].action == "create"


def _qualify(s, dealer_id, *kinds):
    for kind, classes, until in kinds:
        s.add(Qualification(dealer_id=dealer_id, kind=kind, number=f"Q-{dealer_id}-{kind}-{until}", device_classes=classes,
                            valid_until=until, status="approved"))


def test_sellability_lists_every_block_until_the_sale_may_go_ahead(as_tenant, acme):
    day = date(2037, 3, 1)
    hospital = acme["H-FJ-001"]
    with as_tenant("acme") as s:  # a new dealer with no papers yet, a new product not yet registered
        new_dealer = Dealer(code="D-FJ-901", name="福建新启医疗器械有限公司", region_id=acme["region:FJ"], status="active")
        new_sku = Sku(code="SH-LAAO-31", name="左心耳封堵器系统", specification="31 mm", unit="套",
                      product_line_id=acme["line:SH"])
        s.add_all([new_dealer, new_sku])
        s.flush()
        dealer, sku = new_dealer.id, new_sku.id
    with as_tenant("acme") as s:
        codes = {b.code for b in auth_ops.sellability(s, dealer, sku, hospital, day)}
    assert {"sku_unregistered", "qualification_business_license", "not_authorized"} <= codes
    with as_tenant("acme") as s:
        reg = Registration(number="国械注准20373130001", product_name="左心耳封堵器系统", device_class="III", holder="艾科",
                           valid_from=date(2033, 1, 1), valid_until=date(2037, 2, 1))
        s.add(reg)
        s.flush()
        s.get(Sku, sku).registration_id = reg.id
        _qualify(s, dealer, ("business_license", [], None), ("class2_filing", ["II"], None))
    _create(as_tenant, dealer_id=dealer, sku_ids=[sku], region_id=acme["region:FJ"], **_window(2037))
    with as_tenant("acme") as s:
        blocks = auth_ops.sellability(s, dealer, sku, hospital, day)
        assert {b.code for b in blocks} == {"registration_expired", "qualification_operating_permit"}
        assert any("国械注准20373130001" in b.message for b in blocks)
        s.get(Registration, s.get(Sku, sku).registration_id).valid_until = date(2038, 1, 1)
        _qualify(s, dealer, ("operating_permit", ["III"], date(2037, 12, 31)))
    with as_tenant("acme") as s:
        assert auth_ops.sellability(s, dealer, sku, hospital, day) == []
        assert [b.code for b in auth_ops.sellability(s, dealer, sku, acme["H-GD-001"], day)] == ["not_authorized"]
        assert "not_authorized" in {b.code for b in auth_ops.sellability(s, dealer, sku, hospital, date(2038, 1, 1))}
        assert [d.dealer.code for d in auth_ops.authorized_dealers(s, sku, hospital, day)] == ["D-FJ-901"]
        assert auth_ops.authorized_dealers(s, sku, acme["H-GD-001"], day) == []


def test_creating_an_authorization_requests_its_letter_which_the_worker_renders(as_tenant, acme, run_worker):
    a_id, code = _create(as_tenant, dealer_id=acme["D-CQ-001"], product_line_id=acme["line:CV"],
                         region_id=acme["region:CQ"], exclusive=True, notes="含重庆市全部二级以上医院", **_window(2038))
    with as_tenant("acme") as s:
        job = s.scalar(select(Job).where(Job.entity_type == "authorizations", Job.entity_id == str(a_id)))
        assert job.kind == auth_ops.LETTER_JOB and job.dealer_id == acme["D-CQ-001"]
    run_worker()
    with as_tenant("acme") as s:
        auth = s.get(Authorization, a_id)
        assert auth.letter_document_id is not None
        assert auth_ops.latest_letter_job(s, auth).status == "done"
        from app.compliance.models import Document

        doc = s.get(Document, auth.letter_document_id)
        assert doc.filename == f"{code}.pdf" and doc.dealer_id == acme["D-CQ-001"]


# --- pages -------------------------------------------------------------------------------

def _form(acme, **over):
    values = {"dealer_id": acme["D-HB-001"], "products": "line", "product_line_id": acme["line:IVD"],
              "territory": "region", "region_id": acme["region:HB"], "valid_from": "2042-01-01",
              "valid_until": "2042-12-31", "exclusive": "1", "notes": ""}
    values.update(over)
    return values


def test_channel_manager_authorizes_a_dealer_and_an_overlap_is_refused_in_the_form(signed_in, as_tenant, acme):
    b = signed_in("acme", "channel")
    created = b.post("/manufacturer/authorizations/new", _form(acme))
    assert created.status_code == 303
    detail = b.get(created.headers["Location"]).get_data(as_text=True)
    assert "湖北楚康医疗器械有限公司" in detail and "AUTH-" in detail and 'class="card job"' in detail
    before = _count(as_tenant)
    refused = b.post("/manufacturer/authorizations/new", _form(acme, dealer_id=acme["D-SN-001"], territory="hospitals",
                                                              hospital_ids=[acme["H-HB-001"]], exclusive=""))
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "湖北楚康医疗器械有限公司" in page and 'role="alert"' in page
    assert _count(as_tenant) == before
    bad_date = b.post("/manufacturer/authorizations/new", _form(acme, valid_from="01/02/2042"))
    assert bad_date.status_code == 400 and "YYYY-MM-DD" in bad_date.get_data(as_text=True)


def test_choosing_skus_or_hospitals_swaps_the_form_fields(signed_in, acme):
    b = signed_in("acme", "channel")
    html = b.get("/manufacturer/authorizations/new?products=skus&territory=hospitals",
                 headers={"HX-Request": "true"}).get_data(as_text=True)
    assert html.lstrip().startswith("<form") and 'name="sku_ids"' in html and 'name="hospital_ids"' in html
    assert 'name="product_line_id"' not in html and 'name="region_id"' not in html


def test_revoke_and_extend_from_the_page(signed_in, as_tenant, acme):
    a_id, _ = _create(as_tenant, dealer_id=acme["D-LN-001"], product_line_id=acme["line:CV"], region_id=acme["region:LN"],
                      valid_from=date(2043, 1, 1), valid_until=date(2043, 6, 30))
    b = signed_in("acme", "channel")
    path = f"/manufacturer/authorizations/{a_id}"
    no_reason = b.post(path + "/extend", {"valid_until": "2043-12-31", "reason": ""}, token_from=path)
    assert no_reason.status_code == 400 and "审计留痕" in no_reason.get_data(as_text=True)
    assert b.post(path + "/extend", {"valid_until": "2043-12-31", "reason": "续签一年"}, token_from=path).status_code == 303
    assert b.post(path + "/revoke", {"reason": "停止合作"}, token_from=path).status_code == 303
    html = b.get(path).get_data(as_text=True)
    assert "续签一年" in html and "停止合作" in html and "2043-12-31" in html


def test_who_may_see_and_change_authorizations(signed_in, as_tenant, acme):
    a_id, code = _create(as_tenant, dealer_id=acme["D-SH-001"], product_line_id=acme["line:SH"],
                         region_id=acme["region:SH"], valid_from=date(2044, 1, 1), valid_until=date(2044, 12, 31))
    path = f"/manufacturer/authorizations/{a_id}"
    for local in ("admin", "channel", "finance", "sales.east"):
        assert signed_in("acme", local).get(path).status_code == 200, local
    assert signed_in("acme", "sales.south").get(path).status_code == 404  # a 华东 dealer
    assert code not in signed_in("acme", "sales.south").get("/manufacturer/authorizations").get_data(as_text=True)
    for local in ("qa", "service", "dealer1", "hospital1"):
        assert signed_in("acme", local).get(path).status_code == 403, local
        assert signed_in("acme", local).get("/manufacturer/authorizations").status_code == 403, local
    for local in ("finance", "sales.east"):
        assert signed_in("acme", local).get("/manufacturer/authorizations/new").status_code == 403
        assert signed_in("acme", local).post(path + "/revoke", {"reason": "x"}, token_from=path).status_code == 403
    assert signed_in("globex", "admin").get(path).status_code == 404
    g = signed_in("globex", "admin")
    assert g.post(path + "/revoke", {"reason": "x"}, token_from="/manufacturer/").status_code == 404
    # the dealer's own portal: its own authorization, never another dealer's
    assert code in signed_in("acme", "dealer1").get("/dealer/authorizations").get_data(as_text=True)
    assert signed_in("acme", "dealer1").get(f"/dealer/authorizations/{a_id}").status_code == 200
    assert code not in signed_in("acme", "dealer2").get("/dealer/authorizations").get_data(as_text=True)
    assert signed_in("acme", "dealer2").get(f"/dealer/authorizations/{a_id}").status_code == 404
    assert signed_in("globex", "dealer1").get(f"/dealer/authorizations/{a_id}").status_code == 404
    assert signed_in("acme", "hospital1").get(f"/dealer/authorizations/{a_id}").status_code == 403


def test_dealer_downloads_its_own_letter_and_no_other_dealer_can(signed_in, as_tenant, acme, run_worker):
    a_id, code = _create(as_tenant, dealer_id=acme["D-SH-001"], sku_ids=[acme["CV-GW-0141"]],
                         hospital_ids=[acme["H-SH-003"]], valid_from=date(2045, 1, 1), valid_until=date(2045, 12, 31))
    run_worker()
    with as_tenant("acme") as s:
        doc_id = s.get(Authorization, a_id).letter_document_id
    assert doc_id
    mine = signed_in("acme", "dealer1").get(f"/documents/{doc_id}")
    assert mine.status_code == 200 and mine.data.startswith(b"%PDF")
    assert signed_in("acme", "dealer2").get(f"/documents/{doc_id}").status_code == 404
    assert signed_in("acme", "hospital1").get(f"/documents/{doc_id}").status_code == 404
    assert signed_in("acme", "channel").get(f"/documents/{doc_id}").status_code == 200
    html = signed_in("acme", "channel").get(f"/manufacturer/authorizations/{a_id}").get_data(as_text=True)
    assert f"/documents/{doc_id}" in html
