"""Importing a bank statement (.xlsx or CSV) as payments, in a background job: a dry run
writes nothing, the payer is found by account or name (or left for finance), the invoice
named in the remark is matched at once, receipts already imported are skipped and
reported, and a file with any error — a formula, a bad date, a 流水号 twice — writes
nothing and says which row and column."""
import io
import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from app.compliance.models import ImportRun
from app.core.i18n import shanghai_today
from app.finance.models import Invoice, Payment
from tests.finance_world import fresh_dealer, invoice

D = Decimal
HEADERS = ["交易日期", "交易时间", "借方金额", "贷方金额", "余额", "对方户名", "对方账号", "摘要", "附言", "交易流水号"]


def statement(rows, preamble=True) -> bytes:
    """An .xlsx the way online banking exports it: a title, the account and the period
    above the header row, and a total at the end."""
    book = Workbook()
    sheet = book.active
    if preamble:
        sheet.append(["中国工商银行 账户交易明细"])
        sheet.append(["账号：1001 2345 6789 0123 456", None, "户名：苏州美康医疗科技有限公司"])
        sheet.append([])
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def receipt(day, amount, payer, account, remark, ref, note=None):
    return [day.isoformat(), "10:31:22", None, amount, "1000000.00", payer, account, note or "汇入", remark, ref]


@pytest.fixture()
def world(as_tenant):
    """Two dealers of our own, an invoice each; references unique to this test."""
    with as_tenant("acme") as s:
        a, b = fresh_dealer(s), fresh_dealer(s)
        inv = invoice(s, a, [("11300.00", "0.13")])
        other = invoice(s, b, [("2260.00", "0.13")])
        return {"a": (a.id, a.name, a.bank_account), "b": (b.id, b.name, b.bank_account), "invoice": (inv.id, inv.number),
                "other": (other.id, other.number), "tag": uuid.uuid4().hex[:8].upper()}


def upload(client, filename, data, dry_run=False):
    form = {"file": (io.BytesIO(data), filename), "request_id": uuid.uuid4().hex}
    if dry_run:
        form["dry_run"] = "1"
    return client.post("/manufacturer/payments/import", form, token_from="/manufacturer/payments/import",
                       content_type="multipart/form-data")


def imported(client, run_worker, as_tenant, filename, data, dry_run=False) -> ImportRun:
    response = upload(client, filename, data, dry_run)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    run_id = int(re.search(r"/manufacturer/payments/import/(\d+)$", response.headers["Location"]).group(1))
    run_worker()
    with as_tenant("acme") as s:
        run = s.get(ImportRun, run_id)
        s.expunge(run)
    return run


def payments(as_tenant, refs):
    with as_tenant("acme") as s:
        rows = list(s.scalars(select(Payment).where(Payment.bank_ref.in_(refs)).order_by(Payment.bank_ref)))
        for p in rows:
            s.expunge(p)
        return rows


def _rows(world):
    today, tag = shanghai_today(), world["tag"]
    a_id, a_name, a_account = world["a"]
    b_id, b_name, _b_account = world["b"]
    return [
        receipt(today - timedelta(days=2), "11,300.00", "随便写的户名", a_account, f"货款 {world['invoice'][1]}", f"{tag}-1"),
        receipt(today - timedelta(days=1), "500.00", b_name, "6217 9999 1111 2222", "预付货款", f"{tag}-2"),
        receipt(today, "18600.00", "宁波某某医药贸易有限公司", "6228480398812345678", "代付", f"{tag}-3"),
        [today.isoformat(), "11:00:00", "3200.00", None, "996800.00", "顺丰速运有限公司", "7551234", "运费", None, f"{tag}-4"],
        ["合计", None, "3200.00", "30400.00", None, None, None, None, None, None],
    ]


def test_a_dry_run_checks_every_row_and_writes_nothing(world, signed_in, run_worker, as_tenant):
    client = signed_in("acme", "finance")
    run = imported(client, run_worker, as_tenant, "工行对账单.xlsx", statement(_rows(world)), dry_run=True)
    assert run.status == "checked" and run.total_rows == 5 and run.taken_rows == 3, run.errors
    assert payments(as_tenant, [f"{world['tag']}-{n}" for n in range(1, 5)]) == []
    page = client.get(f"/manufacturer/payments/import/{run.id}").get_data(as_text=True)
    assert "import-notes" in page and "3200.00" in page  # the debit row is listed as skipped


def test_an_import_identifies_payers_matches_named_invoices_and_skips_what_it_should(world, signed_in, run_worker,
                                                                                      as_tenant):
    client = signed_in("acme", "finance")
    run = imported(client, run_worker, as_tenant, "工行对账单.xlsx", statement(_rows(world)))
    assert run.status == "imported" and run.taken_rows == 3, run.errors
    notes = {e["row"]: e["message"] for e in run.errors if e.get("note")}
    assert not [e for e in run.errors if not e.get("note")]
    assert set(notes) == {8, 9}  # the debit (row 8) and the total (row 9), after 3 preamble rows and the header
    tag = world["tag"]
    by_account, by_name, unknown = payments(as_tenant, [f"{tag}-1", f"{tag}-2", f"{tag}-3"])
    assert by_account.dealer_id == world["a"][0] and by_account.source == "import" and by_account.import_run_id == run.id
    assert by_account.status == "applied" and by_account.reference == f"汇入 / 货款 {world['invoice'][1]}"
    assert by_name.dealer_id == world["b"][0] and by_name.status == "unapplied" and by_name.amount == D("500.00")
    assert unknown.dealer_id is None and unknown.payer_name == "宁波某某医药贸易有限公司"
    with as_tenant("acme") as s:
        assert s.get(Invoice, world["invoice"][0]).status == "settled"
    page = client.get(f"/manufacturer/payments/import/{run.id}").get_data(as_text=True)
    assert f"/manufacturer/payments?import_run={run.id}" in page
    listed = client.get(f"/manufacturer/payments?import_run={run.id}&status=unidentified").get_data(as_text=True)
    assert unknown.number in listed and by_name.number not in listed

    # the same statement again: every receipt is already there, nothing is added, and it says so
    again = imported(client, run_worker, as_tenant, "工行对账单.xlsx", statement(_rows(world)))
    assert again.status == "imported" and again.taken_rows == 0
    skipped = [e for e in again.errors if e.get("note") and "RC-" in e["message"]]
    assert len(skipped) == 3 and by_account.number in " ".join(e["message"] for e in skipped)
    assert len(payments(as_tenant, [f"{tag}-1", f"{tag}-2", f"{tag}-3"])) == 3


def test_one_bad_row_refuses_the_whole_statement_naming_row_and_column(world, signed_in, run_worker, as_tenant):
    today, tag = shanghai_today(), world["tag"]
    rows = [
        receipt(today, "100.00", world["a"][1], world["a"][2], "ok", f"{tag}-G"),
        receipt(today, "=SUM(1,2)", world["a"][1], world["a"][2], "formula", f"{tag}-F"),
        receipt(today, "12.345", world["a"][1], world["a"][2], "three decimals", f"{tag}-D"),
        ["2026-02-30", None, None, "10.00", None, world["a"][1], None, None, None, f"{tag}-X"],
        receipt(today + timedelta(days=3), "10.00", world["a"][1], None, "future", f"{tag}-T"),
        receipt(today, "10.00", world["a"][1], None, "twice", f"{tag}-2"),
        receipt(today, "20.00", world["a"][1], None, "twice", f"{tag}-2"),
        receipt(today, "30.00", world["a"][1], None, "no reference", None),
    ]
    run = imported(signed_in("acme", "finance"), run_worker, as_tenant, "bad.xlsx", statement(rows, preamble=False))
    assert run.status == "rejected"
    errors = {(e["row"], e["column"]) for e in run.errors if not e.get("note")}
    assert errors == {(3, "贷方金额"), (4, "贷方金额"), (5, "交易日期"), (6, "交易日期"), (7, "交易流水号"),
                      (8, "交易流水号"), (9, "交易流水号")}, run.errors
    formula = next(e for e in run.errors if e["row"] == 3)
    assert formula["value"] == "=SUM(1,2)"
    assert payments(as_tenant, [f"{tag}-G"]) == []  # the good row was not written either


def test_a_gbk_csv_from_another_bank_is_read_with_its_own_headers(world, signed_in, run_worker, as_tenant):
    tag, today = world["tag"], shanghai_today()
    text = ("记账日期,收入金额,支出金额,付款人名称,付款人账号,用途,银行流水号\r\n"
            f"{today:%Y%m%d},\"2,260.00\",,{world['b'][1]},,{world['other'][1]},{tag}-C\r\n")
    run = imported(signed_in("acme", "finance"), run_worker, as_tenant, "建行流水.csv", text.encode("gb18030"))
    assert run.status == "imported" and run.taken_rows == 1, run.errors
    (payment,) = payments(as_tenant, [f"{tag}-C"])
    assert payment.dealer_id == world["b"][0] and payment.status == "applied" and payment.received_on == today


def test_a_statement_without_the_needed_columns_says_which(signed_in, run_worker, as_tenant):
    data = "日期,金额,备注\r\n2026-11-01,100.00,x\r\n".encode("utf-8")
    run = imported(signed_in("acme", "finance"), run_worker, as_tenant, "wrong.csv", data)
    assert run.status == "rejected"
    assert "贷方金额" in run.errors[0]["message"] and "流水号" in run.errors[0]["message"]


def test_only_finance_and_admin_may_import(signed_in):
    for who, status in (("finance", 200), ("admin", 200), ("channel", 403), ("sales.east", 403), ("qa", 403)):
        assert signed_in("acme", who).get("/manufacturer/payments/import").status_code == status, who
    assert signed_in("acme", "dealer1").get("/manufacturer/payments/import").status_code == 403
    response = upload(signed_in("acme", "channel"), "x.csv", b"a,b\r\n1,2\r\n")
    assert response.status_code == 403


def test_a_file_that_is_not_a_statement_is_refused_at_upload(signed_in):
    client = signed_in("acme", "finance")
    response = upload(client, "statement.xlsx", b"not a zip at all")
    assert response.status_code == 400 and "xlsx" in response.get_data(as_text=True)
    assert upload(client, "macro.xlsm", b"PK\x03\x04").status_code == 400


def test_the_header_row_is_looked_for_below_a_title_but_not_forever():
    from app.core.tabular import TableError, read_table
    from app.finance.bank_import import is_header, read_statement

    table = read_table("s.xlsx", statement([receipt(shanghai_today(), "1.00", "x", None, "y", "R1")]),
                       is_header=is_header)
    assert table.headers[:4] == HEADERS[:4] and [r.number for r in table.rows] == [5]
    book = Workbook()
    for n in range(20):
        book.active.append([f"说明第 {n + 1} 行"])
    book.active.append(HEADERS)
    buf = io.BytesIO()
    book.save(buf)
    with pytest.raises(TableError) as err:
        read_statement("long.xlsx", buf.getvalue())
    assert "贷方金额" in err.value.message or "交易日期" in err.value.message
