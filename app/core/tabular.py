"""Spreadsheets in and out, safely: the one place that opens an uploaded .xlsx or .csv
and the one place that writes an .xlsx.

Reading treats every upload as hostile. ``read_table`` refuses (``TableError``, with a
translated reason) what is not a plain workbook or text table — a renamed binary, a
macro workbook, an old .xls, a zip bomb, a file or table that is too big, an empty file
— before any parser sees it, and returns plain values: text stripped, numbers as ``int``
or ``Decimal`` (never ``float``), Excel dates as ``datetime``. A cell that would run as
a formula when the data is later opened in Excel (a formula, or text starting with
``= + - @``) comes back as a ``Rejected`` value: the caller reports it against its row
and column instead of crashing or storing it.

Writing (``write_xlsx``) passes every value through ``safe_cell``, so that nothing a
user typed can ever become a formula in an exported file.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
MAX_COLUMNS = 200
#: the most a workbook may expand to when unzipped, and the worst compression ratio
#: accepted for a member of any real size (spreadsheet XML compresses ~10-30x)
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 200
MAX_MEMBERS = 2000
EXCEL_MAX_ROWS = 1_048_576
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXTENSIONS = ("xlsx", "csv")
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

_FORMULA_START = ("=", "+", "-", "@")
# A leading + or - followed only by digits and phone/number punctuation is a number or
# a phone number ("+86 21 6404 1990", "-12.5"), not a formula: nothing in it can call a
# function or reach another application.
_NUMBER_LIKE = re.compile(r"^[+-][\d\s().,+\-/]*$")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class TableError(Exception):
    """The file as a whole cannot be read; ``message`` says why, translated."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Rejected:
    """A cell refused on reading (e.g. a formula): its raw text and the reason."""

    raw: str
    message: str

    def __str__(self) -> str:
        return self.raw


@dataclass(frozen=True)
class Row:
    #: the row number the user sees in Excel (the header is usually row 1)
    number: int
    values: tuple


@dataclass
class Table:
    headers: list[str]
    rows: list[Row] = field(default_factory=list)


@dataclass
class Sheet:
    title: str
    headers: list[str]
    rows: Iterable[Iterable[Any]] = ()
    #: column widths in characters (optional, one per header)
    widths: list[int] | None = None


# --- reading ---------------------------------------------------------------------------

def extension(filename: str) -> str:
    name = (filename or "").strip().lower()
    return name.rsplit(".", 1)[-1] if "." in name else ""


def check_file(filename: str, data: bytes, max_bytes: int = MAX_BYTES) -> str:
    """The cheap checks, done before a file is stored or parsed: a known extension whose
    content matches it, not empty, not too big. Returns the extension (xlsx or csv)."""
    ext = extension(filename)
    if ext in ("xlsm", "xltm", "xlam"):
        raise TableError(_("Workbooks with macros (.xlsm) are not accepted: save the file as .xlsx (Excel Workbook)."))
    if ext in ("xls", "et"):
        raise TableError(_("The old Excel format (.xls) is not accepted: save the file as .xlsx (Excel Workbook) or .csv."))
    if ext not in EXTENSIONS:
        raise TableError(_("Upload an Excel workbook (.xlsx) or a CSV file (.csv)."))
    if not data:
        raise TableError(_("The file is empty."))
    if len(data) > max_bytes:
        raise TableError(_("The file is larger than %(mb)d MB: split it into several files.", mb=max_bytes // (1024 * 1024)))
    if ext == "xlsx":
        if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
            raise TableError(_("This is an old-format Excel file (.xls) or an encrypted workbook renamed .xlsx: "
                               "save it as .xlsx (Excel Workbook) without a password."))
        if data[:4] != b"PK\x03\x04":
            raise TableError(_("The file is not an Excel workbook (.xlsx), although its name says so."))
    elif b"\x00" in data[:65536] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise TableError(_("The file is not a text (CSV) file, although its name says so."))
    return ext


def read_table(filename: str, data: bytes, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES,
               is_header: Callable[[tuple], bool] | None = None, header_within: int = 15) -> Table:
    """The first worksheet of an .xlsx, or a .csv, as a header row and data rows.

    Fully blank rows are skipped; row numbers are those the user sees in Excel. With
    ``is_header``, the header row is the first of the first ``header_within`` rows it
    accepts (exports such as bank statements open with a title and the period); the
    rows above it are dropped. Raises ``TableError`` for a file that cannot be taken at all."""
    ext = check_file(filename, data, max_bytes)
    raw_rows = _xlsx_rows(data) if ext == "xlsx" else _csv_rows(data)
    table: Table | None = None
    skipped = 0
    for number, values in raw_rows:
        if len(values) > MAX_COLUMNS:
            if any(v not in (None, "") for v in values[MAX_COLUMNS:]):
                raise TableError(_("The table has more than %(n)d columns.", n=MAX_COLUMNS))
            values = values[:MAX_COLUMNS]
        cells = tuple(_clean(v, ext) for v in values)
        if all(c is None for c in cells):
            continue
        if table is None:
            if is_header is not None and not is_header(cells):
                skipped += 1
                if skipped >= header_within:
                    break
                continue
            table = Table(_headers(cells))
            continue
        if len(table.rows) >= max_rows:
            raise TableError(_("The file has more than %(n)s rows: split it into several files.", n=f"{max_rows:,}"))
        width = len(table.headers)
        cells = cells[:width] + (None,) * (width - len(cells))
        table.rows.append(Row(number, cells))
    if table is None:
        raise TableError(_("The file has no header row: the first row must name the columns."))
    return table


def _headers(cells: tuple) -> list[str]:
    headers = []
    for cell in cells:
        text = "" if cell is None else str(cell).strip()
        if isinstance(cell, Rejected):
            raise TableError(_("The header row contains a formula: type the column names as text."))
        if text and text in headers:
            raise TableError(_("The column “%(name)s” appears twice in the header row.", name=text))
        headers.append(text)
    while headers and not headers[-1]:
        headers.pop()
    if not any(headers):
        raise TableError(_("The file has no header row: the first row must name the columns."))
    return headers


def _check_zip(data: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise TableError(_("The workbook is damaged: it cannot be opened as an Excel file (.xlsx)."))
    names = {m.filename for m in members}
    if len(members) > MAX_MEMBERS:
        raise TableError(_("The workbook is damaged: it cannot be opened as an Excel file (.xlsx)."))
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise TableError(_("The file is not an Excel workbook (.xlsx), although its name says so."))
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise TableError(_("Workbooks with macros (.xlsm) are not accepted: save the file as .xlsx (Excel Workbook)."))
    total = 0
    for m in members:
        total += m.file_size
        if m.flag_bits & 0x1:
            raise TableError(_("The workbook is protected with a password: save it without one."))
        if m.file_size > 1024 * 1024 and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise TableError(_("The workbook expands to far more data than it holds (a “zip bomb”): it is refused."))
    if total > MAX_UNZIPPED_BYTES:
        raise TableError(_("The workbook expands to far more data than it holds (a “zip bomb”): it is refused."))
    return archive


def _xlsx_rows(data: bytes):
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    _check_zip(data)
    try:
        # read_only: rows stream from the XML; data_only=False: a formula stays a
        # formula (text starting with "="), so it is seen and refused, not evaluated.
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, EOFError) as exc:
        raise TableError(_("The workbook is damaged: it cannot be opened as an Excel file (.xlsx).")) from exc
    except Exception as exc:  # any other parser failure on hostile XML is the file's fault
        raise TableError(_("The workbook is damaged: it cannot be opened as an Excel file (.xlsx).")) from exc
    try:
        sheets = book.worksheets
        if not sheets:
            raise TableError(_("The workbook has no worksheet."))
        sheet = sheets[0]
        # The sheet's declared dimension is not trusted: a file claiming A1:XFD1048576
        # would otherwise be padded out to a billion empty cells.
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()
        try:
            # Missing rows come back empty, so counting gives Excel's row numbers.
            for number, cells in enumerate(sheet.iter_rows(), 1):
                if number > EXCEL_MAX_ROWS:
                    raise TableError(_("The workbook is damaged: it cannot be opened as an Excel file (.xlsx)."))
                if cells:
                    yield number, [_xlsx_value(c) for c in cells]
        except TableError:
            raise
        except Exception as exc:
            raise TableError(_("The workbook is damaged: it cannot be opened as an Excel file (.xlsx).")) from exc
    finally:
        book.close()


def _xlsx_value(cell):
    value = getattr(cell, "value", None)
    if getattr(cell, "data_type", None) == "f" or (value is not None and not isinstance(
            value, (str, int, float, Decimal, bool, datetime, date, time, timedelta))):
        text = value.text if hasattr(value, "text") else str(value)  # ArrayFormula, DataTableFormula
        text = text if str(text).startswith("=") else f"={text}"
        return Rejected(str(text)[:200], _("The cell holds a formula: type the value itself."))
    return value


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text"
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # Excel on Chinese Windows saves CSV in the ANSI code page (GBK); GB18030 is its superset.
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise TableError(_("The CSV file's text encoding is not recognised: save it as “CSV UTF-8”."))


def _csv_rows(data: bytes):
    try:
        text = _decode(data)
    except UnicodeError:
        raise TableError(_("The CSV file's text encoding is not recognised: save it as “CSV UTF-8”."))
    if "\x00" in text:
        raise TableError(_("The file is not a text (CSV) file, although its name says so."))
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first_line.count) if first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, values in enumerate(reader, 1):
            yield number, values
    except csv.Error as exc:
        raise TableError(_("The CSV file is malformed near row %(n)d: check its quotes.", n=reader.line_num)) from exc


def _clean(value, ext: str):
    """A cell's value as callers get it: text stripped (empty → None), floats turned
    into Decimal the way Excel shows them (15 significant digits, so 0.1+0.2 is 0.3 and
    12.3 stays 12.3), formulas and formula-like text rejected."""
    if value is None or isinstance(value, Rejected):
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return Rejected(str(value), _("Not a number."))
        text = format(value, ".15g")
        try:
            number = Decimal(text)
        except InvalidOperation:
            return Rejected(text, _("Not a number."))
        return int(number) if number == number.to_integral_value() and "e" not in text.lower() and "." not in text \
            else number
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.startswith(_FORMULA_START) and not _NUMBER_LIKE.match(text):
            return Rejected(text[:200], _("Text starting with =, +, - or @ is taken for a formula and refused: "
                                          "remove that first character."))
        return text
    return value


# --- writing ---------------------------------------------------------------------------

def safe_cell(value):
    """A value ready for a spreadsheet cell. Text that a spreadsheet would run as a
    formula (starting with = + - @, or a tab or carriage return that hides such a
    start) is prefixed with an apostrophe; Decimal stays exact; aware datetimes are shown
    in Shanghai time (Excel has no time zones); lists are joined."""
    if value is None or isinstance(value, (bool, int, Decimal, date, time, timedelta)) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.astimezone(LOCAL_TZ).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, float):
        return Decimal(format(value, ".15g"))
    if isinstance(value, (list, tuple, set, frozenset)):
        value = "、".join(str(v) for v in value)
    text = _ILLEGAL_XML.sub("", str(value))
    if text.startswith(_FORMULA_START + ("\t", "\r", "\n")):
        return "'" + text
    return text


def write_xlsx(sheets: list[Sheet]) -> bytes:
    """A workbook with one worksheet per ``Sheet`` (streamed: constant memory per row)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for spec in sheets:
        ws = book.create_sheet(_sheet_title(spec.title))
        widths = spec.widths or [max(10, min(40, len(str(h)) * 2 + 2)) for h in spec.headers]
        for i, width in enumerate(widths, 1):
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.freeze_panes = "A2"
        header = []
        for h in spec.headers:
            cell = WriteOnlyCell(ws, value=safe_cell(h))
            cell.font = bold
            header.append(cell)
        ws.append(header)
        for row in spec.rows:
            ws.append([safe_cell(v) for v in row])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _sheet_title(title: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", " ", str(title))[:31] or "Sheet"
