"""Reading and writing spreadsheets: hostile and malformed files are refused with a
reason, formula cells are caught per cell, numbers stay exact."""
import io
import zipfile
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from app.core.tabular import Rejected, Sheet, TableError, read_table, safe_cell, write_xlsx


def xlsx(rows, title="数据") -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def refused(filename, data, **kw) -> str:
    with pytest.raises(TableError) as err:
        read_table(filename, data, **kw)
    return err.value.message


def test_a_plain_workbook_gives_headers_and_rows_with_excel_row_numbers():
    table = read_table("医院.xlsx", xlsx([["医院编码", "医院名称"], [" H-1 ", "北京协和医院"], [None, None], ["H-2", "阜外医院"]]))
    assert table.headers == ["医院编码", "医院名称"]
    assert [(r.number, r.values) for r in table.rows] == [(2, ("H-1", "北京协和医院")), (4, ("H-2", "阜外医院"))]


def test_a_renamed_program_is_not_taken_for_a_workbook():
    assert "not an Excel workbook" in refused("dealers.xlsx", b"MZ\x90\x00\x03" + b"\x00" * 200)
    assert "not a text" in refused("dealers.csv", b"MZ\x90\x00\x03" + b"\x00" * 200)


def test_a_damaged_workbook_is_refused_not_a_crash():
    data = xlsx([["a"], ["b"]])
    assert "damaged" in refused("x.xlsx", data[: len(data) // 2])
    assert "damaged" in refused("x.xlsx", b"PK\x03\x04" + b"junk" * 100)


def test_a_zip_that_is_not_a_workbook_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "hi")
    assert "not an Excel workbook" in refused("x.xlsx", buf.getvalue())


def test_macro_workbooks_and_old_excel_files_are_refused_with_what_to_do():
    assert ".xlsm" in refused("prices.xlsm", xlsx([["a"]]))
    assert ".xls" in refused("prices.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert ".xls" in refused("prices.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx([["a"]]))) as src, zipfile.ZipFile(buf, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("xl/vbaProject.bin", b"\x00" * 10)
    assert ".xlsm" in refused("prices.xlsx", buf.getvalue())
    assert "Upload an Excel workbook" in refused("prices.pdf", b"%PDF-1.7")


def test_a_zip_bomb_is_refused_before_it_is_unpacked():
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx([["a"]]))) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("xl/media/bomb.bin", b"\x00" * (50 * 1024 * 1024))
    data = buf.getvalue()
    assert len(data) < 1024 * 1024
    assert "zip bomb" in refused("x.xlsx", data)


def test_a_worksheet_claiming_a_huge_dimension_is_read_by_its_real_rows():
    data = xlsx([["编码"], ["A"]])
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for item in src.infolist():
            body = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(b'<dimension ref="A1:A2"/>', b'<dimension ref="A1:XFD1048576"/>')
            dst.writestr(item, body)
    table = read_table("x.xlsx", buf.getvalue())
    assert [r.values for r in table.rows] == [("A",)]


def test_huge_files_and_too_many_rows_are_refused():
    assert "larger than 10 MB" in refused("x.csv", b"a\n" + b"x" * (10 * 1024 * 1024))
    rows = "编码\n" + "".join(f"C{i}\n" for i in range(30))
    assert "more than 20 rows" in refused("x.csv", rows.encode(), max_rows=20)
    assert "more than 20 rows" in refused("x.xlsx", xlsx([["编码"]] + [[f"C{i}"] for i in range(30)]), max_rows=20)


def test_empty_files_and_files_without_a_header_are_refused():
    assert "empty" in refused("x.csv", b"")
    assert "no header row" in refused("x.csv", b"\n,,\n\n")
    assert "no header row" in refused("x.xlsx", xlsx([]))
    assert "twice" in refused("x.csv", "编码,编码\n1,2\n".encode())


def test_csv_saved_by_chinese_excel_in_gbk_is_read():
    table = read_table("医院.csv", "医院编码,医院名称\nH-1,复旦大学附属中山医院\n".encode("gbk"))
    assert table.headers == ["医院编码", "医院名称"] and table.rows[0].values == ("H-1", "复旦大学附属中山医院")


def test_csv_utf8_with_and_without_bom_and_tab_separated_unicode_text():
    for data in ("编码,名称\nA,华东\n".encode("utf-8-sig"), "编码,名称\nA,华东\n".encode("utf-8"),
                 "编码\t名称\nA\t华东\n".encode("utf-16")):
        table = read_table("x.csv", data)
        assert table.headers == ["编码", "名称"] and table.rows[0].values == ("A", "华东")


def test_formula_cells_and_formula_like_text_are_rejected_per_cell():
    data = xlsx([["编码", "名称"], ["A", "=1+2"], ["B", '=HYPERLINK("http://evil.example","点我")'], ["C", "@SUM(A1)"]])
    table = read_table("x.xlsx", data)
    values = [r.values[1] for r in table.rows]
    assert all(isinstance(v, Rejected) for v in values)
    assert values[1].raw.startswith("=HYPERLINK")
    csv_table = read_table("x.csv", '编码,名称\nA,"=cmd|\' /C calc\'!A0"\nB,+1+cmd\nC,-2+3\n'.encode())
    assert all(isinstance(r.values[1], Rejected) for r in csv_table.rows[:2])
    assert isinstance(csv_table.rows[2].values[1], Rejected) is False  # "-2+3" is only arithmetic on numbers


def test_phone_numbers_and_negative_numbers_starting_with_plus_or_minus_are_text_not_formulas():
    table = read_table("x.csv", "电话,数\n+86 21 6404 1990,-12.5\n".encode())
    assert table.rows[0].values == ("+86 21 6404 1990", "-12.5")


def test_mixed_types_dates_and_numbers_keep_their_kind():
    when = datetime(2025, 3, 1)
    table = read_table("x.xlsx", xlsx([["文本", "整数", "小数", "日期", "布尔"], ["A", 42, 12.3, when, True],
                                       ["B", "42", 0.1 + 0.2, date(2025, 12, 31), False]]))
    first, second = table.rows[0].values, table.rows[1].values
    assert first == ("A", 42, Decimal("12.3"), when, True)
    assert second[1] == "42" and second[2] == Decimal("0.3") and second[3] == datetime(2025, 12, 31)
    assert not any(isinstance(v, float) for r in table.rows for v in r.values)
    csv_table = read_table("x.csv", "日期\n2025-03-01\n".encode())
    assert csv_table.rows[0].values == ("2025-03-01",)


def test_money_keeps_its_decimals():
    table = read_table("x.csv", "价格\n12.30\n".encode())
    assert table.rows[0].values[0] == "12.30"
    book = load_workbook(io.BytesIO(write_xlsx([Sheet("价格", ["价格"], [[Decimal("12.30")], [Decimal("1234567.89")]])])))
    values = [row[0].value for row in book.active.iter_rows(min_row=2)]
    assert [Decimal(str(v)) for v in values] == [Decimal("12.3"), Decimal("1234567.89")]
    assert read_table("x.xlsx", xlsx([["价格"], [1234567.89], [12.30]])).rows[0].values == (Decimal("1234567.89"),)


def test_safe_cell_makes_formula_text_inert():
    assert safe_cell('=HYPERLINK("http://evil.example")') == '\'=HYPERLINK("http://evil.example")'
    for text in ("+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert safe_cell(text).startswith("'")
    assert safe_cell("华东医疗器械有限公司") == "华东医疗器械有限公司"
    assert safe_cell(Decimal("12.30")) == Decimal("12.30") and safe_cell(-5) == -5
    assert safe_cell(datetime(2025, 1, 1, 0, 0, tzinfo=timezone.utc)) == datetime(2025, 1, 1, 8, 0)
    assert safe_cell(["心内科", "导管室"]) == "心内科、导管室"


def test_written_workbooks_never_hold_formulas():
    data = write_xlsx([Sheet("名单", ["名称"], [["=1+2"], ['=HYPERLINK("x")'], ["正常"]])])
    book = load_workbook(io.BytesIO(data))
    cells = [c for row in book.active.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    assert [c.value for c in cells] == ["名称", "'=1+2", '\'=HYPERLINK("x")', "正常"]
