"""Importing master data from Excel and CSV: templates, all-or-nothing per file, row-level
errors, dry runs, and who may do it."""
import io
import re
import uuid
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.catalog.models import Sku
from app.channel.models import Authorization, Dealer, Hospital
from app.channel.rules import USCC_ALPHABET, uscc_check_char
from app.compliance.models import AuditEvent, ImportRun, Job
from app.pricing.models import PriceList, PriceListItem

from tests.data_world import world_tenant  # noqa: F401  (the "world" fixture)

HOSPITAL_HEADERS = ["医院编码", "医院名称", "医院等级", "区域编码", "城市", "科室"]


def xlsx(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


def upload(client, entity, filename, data, dry_run=False):
    form = {"entity": entity, "file": (io.BytesIO(data), filename)}
    if dry_run:
        form["dry_run"] = "y"
    return client.post("/manufacturer/imports", form, token_from="/manufacturer/imports", content_type="multipart/form-data")


def imported(client, run_worker, as_tenant, entity, filename, data, dry_run=False) -> ImportRun:
    response = upload(client, entity, filename, data, dry_run)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    run_id = int(re.search(r"/manufacturer/imports/(\d+)$", response.headers["Location"]).group(1))
    run_worker()
    with as_tenant(slug_of(client)) as session:
        run = session.get(ImportRun, run_id)
        session.expunge(run)
    return run


def slug_of(client) -> str:
    return client.base_url.split("//", 1)[1].split(".", 1)[0]


def hospitals_named(as_tenant, codes, world):
    with as_tenant(world) as session:
        return {h.code: (h.name, h.grade, h.departments) for h in session.scalars(select(Hospital).where(Hospital.code.in_(codes)))}


def uscc(seed: str) -> str:
    body = "91310000" + "".join(USCC_ALPHABET[(ord(c) * 7 + i) % 31] for i, c in enumerate((seed * 3)[:9]))
    return body + uscc_check_char(body)


def test_template_has_the_chinese_headers_an_example_and_notes(world, signed_in):
    response = signed_in(world, "channel").get("/manufacturer/imports/template/hospitals")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    data, notes = book.worksheets
    headers = [c.value for c in next(data.iter_rows(max_row=1))]
    assert headers[:4] == ["医院编码", "医院名称", "医院等级", "区域编码"]
    assert [c.value for c in next(data.iter_rows(min_row=2, max_row=2))][0] == "H-JS-101"
    assert "医院编码" in [row[0].value for row in notes.iter_rows(min_row=2)]


def test_imports_page_offers_only_what_the_user_may_import(world, signed_in):
    channel = signed_in(world, "channel").get("/manufacturer/imports").get_data(as_text=True)
    assert "/manufacturer/imports/template/hospitals" in channel and "/manufacturer/imports/template/dealers" in channel
    finance = signed_in(world, "finance").get("/manufacturer/imports").get_data(as_text=True)
    assert "/manufacturer/imports/template/price_list_items" in finance
    assert "/manufacturer/imports/template/hospitals" not in finance
    assert signed_in(world, "finance").get("/manufacturer/imports/template/hospitals").status_code == 403


def test_a_good_file_imports_every_row_and_is_audited(world, signed_in, run_worker, as_tenant):
    t = tag()
    rows = [HOSPITAL_HEADERS, [f"H-T{t}-1", f"测试医院甲{t}", "三甲", "SH-C", "上海", "心内科、导管室"],
            [f"H-T{t}-2", f"测试医院乙{t}", "二级甲等", "JS-NJ", "南京", None]]
    run = imported(signed_in(world, "channel"), run_worker, as_tenant, "hospitals", "医院.xlsx", xlsx(rows))
    assert (run.status, run.total_rows, run.taken_rows, run.errors) == ("imported", 2, 2, [])
    found = hospitals_named(as_tenant, [f"H-T{t}-1", f"H-T{t}-2"], world)
    assert found[f"H-T{t}-1"] == (f"测试医院甲{t}", "三级甲等", ["心内科", "导管室"])
    with as_tenant(world) as session:
        hospital_id = session.scalar(select(Hospital.id).where(Hospital.code == f"H-T{t}-1"))
        created = session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "hospitals",
                                                          AuditEvent.entity_id == str(hospital_id)))
        assert created.action == "create" and created.actor_label == f"channel@{world}.test"
        assert f"#{run.id}" in created.reason
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "import",
                                                        AuditEvent.entity_id == str(run.id)))
        assert event.after["rows"] == 2 and event.after["status"] == "imported"


def test_an_existing_record_with_the_same_code_is_updated_not_duplicated(world, signed_in, run_worker, as_tenant):
    t = tag()
    client = signed_in(world, "channel")
    first = [HOSPITAL_HEADERS, [f"H-U{t}", f"旧名{t}", "三级乙等", "SH-C", "上海", None]]
    imported(client, run_worker, as_tenant, "hospitals", "a.xlsx", xlsx(first))
    second = [["医院编码", "医院名称", "医院等级", "区域编码"], [f"h-u{t}", f"新名{t}", "三级甲等", "SH-C"]]
    run = imported(client, run_worker, as_tenant, "hospitals", "b.xlsx", xlsx(second))
    assert run.status == "imported"
    assert hospitals_named(as_tenant, [f"H-U{t}"], world) == {f"H-U{t}": (f"新名{t}", "三级甲等", [])}


def test_one_bad_row_imports_nothing_and_names_exactly_that_row_and_column(world, signed_in, run_worker, as_tenant):
    t = tag()
    rows = [HOSPITAL_HEADERS, [f"H-B{t}-1", "好医院", "三级甲等", "SH-C", "上海", None],
            [f"H-B{t}-2", "坏医院", "特级", "SH-C", "上海", None],
            [f"H-B{t}-3", "好医院二", "一级", "SH-C", "上海", None]]
    client = signed_in(world, "channel")
    run = imported(client, run_worker, as_tenant, "hospitals", "bad.xlsx", xlsx(rows))
    assert run.status == "rejected" and run.taken_rows == 2
    assert [(e["row"], e["column"], e["value"]) for e in run.errors] == [(3, "医院等级", "特级")]
    assert hospitals_named(as_tenant, [f"H-B{t}-1", f"H-B{t}-2", f"H-B{t}-3"], world) == {}
    page = client.get(f"/manufacturer/imports/{run.id}").get_data(as_text=True)
    assert "特级" in page and "医院等级" in page
    with as_tenant(world) as session:
        report_id = session.get(Job, run.job_id).document_id
    report = client.get(f"/documents/{report_id}")
    assert report.status_code == 200
    rows_sheet = load_workbook(io.BytesIO(report.data)).worksheets[1]  # summary, rows, errors
    lines = [[c.value for c in row] for row in rows_sheet.iter_rows()]
    assert lines[0][-1] == "错误 / Errors"
    assert lines[2][0] == 3 and "医院等级" in lines[2][-1] and lines[1][-1] is None


def test_an_operation_refusal_is_reported_against_its_column(world, signed_in, run_worker, as_tenant):
    t = tag()
    headers = ["经销商编码", "经销商名称", "统一社会信用代码", "区域编码"]
    rows = [headers, [f"D-T{t}", f"测试经销商{t}", "91310000MA1FL0000X", "SH"]]
    run = imported(signed_in(world, "channel"), run_worker, as_tenant, "dealers", "d.xlsx", xlsx(rows))
    assert run.status == "rejected"
    assert [(e["row"], e["column"]) for e in run.errors] == [(2, "统一社会信用代码")]


def test_duplicates_within_a_file_are_reported_on_both_rows(world, signed_in, run_worker, as_tenant):
    t = tag()
    rows = [HOSPITAL_HEADERS, [f"H-D{t}", "甲", "三级甲等", "SH-C", None, None],
            [f"H-X{t}", "乙", "三级甲等", "SH-C", None, None], [f"h-d{t}", "丙", "三级甲等", "SH-C", None, None]]
    run = imported(signed_in(world, "channel"), run_worker, as_tenant, "hospitals", "dup.xlsx", xlsx(rows))
    assert run.status == "rejected"
    assert sorted((e["row"], e["column"]) for e in run.errors) == [(2, "医院编码"), (4, "医院编码")]
    assert "4" in run.errors[0]["message"]
    assert hospitals_named(as_tenant, [f"H-X{t}"], world) == {}


def test_unknown_references_are_reported(world, signed_in, run_worker, as_tenant):
    t = tag()
    rows = [HOSPITAL_HEADERS + ["配送经销商编码"], [f"H-R{t}", "医院", "三级甲等", "MARS", None, None, "D-NOPE"]]
    run = imported(signed_in(world, "channel"), run_worker, as_tenant, "hospitals", "ref.xlsx", xlsx(rows))
    problems = {(e["column"], e["value"]): e["message"] for e in run.errors}
    assert set(problems) == {("区域编码", "MARS"), ("配送经销商编码", "D-NOPE")}
    assert "MARS" in problems[("区域编码", "MARS")]


def test_a_missing_required_column_refuses_the_file(world, signed_in, run_worker, as_tenant):
    run = imported(signed_in(world, "channel"), run_worker, as_tenant, "hospitals", "cols.xlsx",
                   xlsx([["医院编码", "医院名称"], ["H-1", "x"]]))
    assert run.status == "rejected"
    assert any("医院等级" in e["message"] for e in run.errors)


def test_dry_run_writes_nothing_but_reports(world, signed_in, run_worker, as_tenant):
    t = tag()
    rows = [HOSPITAL_HEADERS, [f"H-Y{t}", "试运行医院", "三级甲等", "SH-C", None, None]]
    client = signed_in(world, "channel")
    run = imported(client, run_worker, as_tenant, "hospitals", "dry.xlsx", xlsx(rows), dry_run=True)
    assert (run.status, run.taken_rows, run.errors, run.dry_run) == ("checked", 1, [], True)
    assert hospitals_named(as_tenant, [f"H-Y{t}"], world) == {}
    page = client.get(f"/manufacturer/imports/{run.id}")
    assert page.status_code == 200 and "dry.xlsx" in page.get_data(as_text=True)


def test_english_headers_and_a_gbk_csv_import_dealers(world, signed_in, run_worker, as_tenant):
    t = tag()
    text = ("Dealer code,Legal name,Unified social credit code,Tier,Region code,Credit limit,Payment terms (days)\n"
            f"D-C{t},无锡测试医疗器械有限公司{t},{uscc(t)},一级经销商,JS,500000.50,90\n")
    run = imported(signed_in(world, "channel"), run_worker, as_tenant, "dealers", "经销商.csv", text.encode("gbk"))
    assert run.status == "imported", run.errors
    with as_tenant(world) as session:
        dealer = session.scalar(select(Dealer).where(Dealer.code == f"D-C{t}"))
        assert (dealer.name, dealer.tier, dealer.credit_limit, dealer.payment_terms_days) == (
            f"无锡测试医疗器械有限公司{t}", "tier1", Decimal("500000.50"), 90)
        assert dealer.status == "pending"  # an imported dealer trades only after its first-business review


def test_formula_injection_in_a_cell_is_refused_with_its_row(world, signed_in, run_worker, as_tenant):
    t = tag()
    rows = [HOSPITAL_HEADERS, [f"H-F{t}", '=HYPERLINK("http://evil.example","点我")', "三级甲等", "SH-C", None, None],
            [f"H-G{t}", "@SUM(A1)", "三级甲等", "SH-C", None, None]]
    run = imported(signed_in(world, "channel"), run_worker, as_tenant, "hospitals", "evil.xlsx", xlsx(rows))
    assert run.status == "rejected"
    assert [(e["row"], e["column"]) for e in run.errors] == [(2, "医院名称"), (3, "医院名称")]
    assert hospitals_named(as_tenant, [f"H-F{t}", f"H-G{t}"], world) == {}


def test_a_file_that_is_not_a_spreadsheet_is_refused_on_upload(world, signed_in, as_tenant):
    client = signed_in(world, "channel")
    response = upload(client, "hospitals", "hospitals.xlsx", b"MZ\x90\x00" + b"\x00" * 500)
    assert response.status_code == 400
    assert 'id="file-error"' in response.get_data(as_text=True)
    assert upload(client, "hospitals", "hospitals.xlsm", xlsx([["a"]])).status_code == 400


def test_a_zip_bomb_is_refused_by_the_job_with_the_reason(world, signed_in, run_worker, as_tenant):
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx([HOSPITAL_HEADERS]))) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("xl/media/bomb.bin", b"\x00" * (50 * 1024 * 1024))
    run = imported(signed_in(world, "channel"), run_worker, as_tenant, "hospitals", "bomb.xlsx", buf.getvalue())
    assert run.status == "rejected" and run.errors[0]["row"] is None and "压缩炸弹" in run.errors[0]["message"]


def test_sending_the_same_form_twice_starts_one_import(world, signed_in, as_tenant):
    client = signed_in(world, "channel")
    page = client.get("/manufacturer/imports").get_data(as_text=True)
    request_id = re.search(r'name="request_id" type="hidden" value="([0-9a-f]+)"', page).group(1)
    data = xlsx([HOSPITAL_HEADERS, [f"H-I{tag()}", "x", "三级甲等", "SH-C", None, None]])
    locations = set()
    for _ in range(2):
        response = client.post("/manufacturer/imports", {"entity": "hospitals", "request_id": request_id,
                                                         "file": (io.BytesIO(data), "x.xlsx")},
                               token_from="/manufacturer/imports", content_type="multipart/form-data")
        locations.add(response.headers["Location"])
    assert len(locations) == 1


def test_skus_import_goes_to_product_review_for_qa(world, signed_in, run_worker, as_tenant):
    t = tag()
    rows = [["产品编码", "产品名称", "规格型号", "单位", "产品线编码", "税率", "追溯方式", "有效期（月）", "植入类"],
            [f"CV-T{t}", "测试支架", "3.0×18mm", "套", "CV", "13%", "序列号", 24, "是"]]
    run = imported(signed_in(world, "qa"), run_worker, as_tenant, "skus", "skus.xlsx", xlsx(rows))
    assert run.status == "imported", run.errors
    with as_tenant(world) as session:
        sku = session.scalar(select(Sku).where(Sku.code == f"CV-T{t}"))
        assert (sku.tax_rate, sku.tracking, sku.shelf_life_months, sku.implant) == (Decimal("0.13"), "serial", 24, True)


def test_price_list_items_import_for_finance_keeps_exact_prices(world, signed_in, run_worker, as_tenant):
    t = tag()
    with as_tenant(world) as session:
        session.add(PriceList(code=f"PL-{t}", name="测试价目表", channel="distribution", valid_from=date(2025, 1, 1)))
    rows = [["价目表编码", "产品编码", "价格"], [f"PL-{t}", "CV-DES-3018", "6800.10"], [f"PL-{t}", "CV-GW-0141", 12.3]]
    run = imported(signed_in(world, "finance"), run_worker, as_tenant, "price_list_items", "p.xlsx", xlsx(rows))
    assert run.status == "imported", run.errors
    with as_tenant(world) as session:
        prices = sorted(session.scalars(select(PriceListItem.price).join(PriceList).where(PriceList.code == f"PL-{t}")))
    assert prices == [Decimal("12.30"), Decimal("6800.10")]
    too_precise = [["价目表编码", "产品编码", "价格"], [f"PL-{t}", "CV-DES-3018", "6800.105"]]
    run = imported(signed_in(world, "finance"), run_worker, as_tenant, "price_list_items", "p.xlsx", xlsx(too_precise))
    assert run.status == "rejected" and run.errors[0]["column"] == "价格"


def test_authorizations_import_creates_them_with_codes(world, signed_in, run_worker, as_tenant):
    rows = [["经销商编码", "产品线编码", "医院编码", "开始日期", "结束日期", "独家"],
            ["D-SH-001", "IVD", "H-SH-002、H-SH-003", date(2031, 1, 1), "2031-12-31", "否"]]
    client = signed_in(world, "channel")
    with as_tenant(world) as session:
        before = session.scalar(select(func.count()).select_from(Authorization))
    run = imported(client, run_worker, as_tenant, "authorizations", "a.xlsx", xlsx(rows))
    assert run.status == "imported", run.errors
    with as_tenant(world) as session:
        assert session.scalar(select(func.count()).select_from(Authorization)) == before + 1
    again = imported(client, run_worker, as_tenant, "authorizations", "a.xlsx", xlsx(rows))
    assert again.status == "rejected" and "已持有此授权" in again.errors[0]["message"]


@pytest.mark.parametrize("local", ["dealer1", "hospital1", "sales.east", "service"])
def test_people_without_import_rights_are_refused(world, signed_in, local, as_tenant):
    client = signed_in(world, local)
    assert client.get("/manufacturer/imports").status_code == 403
    assert client.get("/manufacturer/imports/template/hospitals").status_code == 403


def test_import_pages_are_closed_to_other_roles_dealers_hospitals_and_tenants(world, signed_in, run_worker, as_tenant):
    run = imported(signed_in(world, "channel"), run_worker, as_tenant, "hospitals", "x.xlsx",
                   xlsx([HOSPITAL_HEADERS, [f"H-P{tag()}", "x", "三级甲等", "SH-C", None, None]]))
    path = f"/manufacturer/imports/{run.id}"
    assert signed_in(world, "admin").get(path).status_code == 200
    assert signed_in(world, "finance").get(path).status_code == 403  # hospitals are not finance's to import
    for local in ("dealer1", "hospital1"):
        assert signed_in(world, local).get(path).status_code == 403
    assert signed_in("globex", "admin").get(path).status_code == 404
    assert signed_in(world, "channel").get("/manufacturer/imports/999999").status_code == 404
    assert signed_in(world, "channel").get("/manufacturer/imports/template/nothing").status_code == 404
    with as_tenant(world) as session:
        upload_id = session.get(ImportRun, run.id).upload_document_id
        report_id = session.get(Job, run.job_id).document_id
    for local in ("dealer1", "hospital1", "sales.east"):
        client = signed_in(world, local)
        assert client.get(f"/documents/{upload_id}").status_code == 404
        assert client.get(f"/documents/{report_id}").status_code == 404
    assert signed_in("globex", "admin").get(f"/documents/{report_id}").status_code == 404


def test_a_dealer_cannot_start_an_import(world, signed_in):
    client = signed_in(world, "dealer1")
    response = client.client.post("/manufacturer/imports", base_url=client.base_url,
                                  data={"entity": "hospitals", "file": (io.BytesIO(b"a"), "a.csv")})
    assert response.status_code in (400, 403)  # no CSRF token of that page to send, and no access anyway
