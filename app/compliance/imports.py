"""Bulk import of master data from Excel or CSV (data migration): one mechanism for
every entity, all rows or none per file.

Each entity declares an ``ImportSpec`` in its own domain (app/catalog/imports.py,
app/channel/imports.py, app/pricing/imports.py): its columns (the Chinese header is
canonical, an English alias is accepted), how each cell is parsed, which columns
identify a row, and ``apply`` — the domain operation that creates or changes one
record. ``import_table`` checks every row (parse, duplicates inside the file, then the
operation inside a SAVEPOINT so that one bad row does not stop the others from being
checked) and returns every error; the ``data.import`` job keeps the writes only if
there is none and it is not a dry run.

Blank optional cells leave the current value unchanged (and take the default for a new
record): an import never erases data by omission.

Transactions: the job runs the whole file in one tenant transaction. When the file is
taken, the import's own record (status, counts) is written in that same transaction, so
data and outcome commit together and a re-run of the job finds the import finished;
when it is refused or only checked, everything is rolled back and the outcome is
written in a new, short transaction.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from app.core.errors import InvalidInput
from app.core.tabular import Rejected, Sheet, Table, TableError, read_table, write_xlsx

MAX_STORED_ERRORS = 5000
PROGRESS_EVERY = 100
IMPORT_ROLES = ("admin", "channel_manager")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CellError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- parsers: a raw cell (str, int, Decimal, datetime, bool) to a Python value ----------

class Parser:
    """Turns one non-blank cell into a value, or raises ``CellError``. ``prepare`` sees
    the whole column first (reference look-ups resolve every code in one query)."""

    #: how the notes sheet describes what to type
    hint: Any = ""

    def prepare(self, session: Session, raws: list) -> None:
        pass

    def parse(self, raw):
        raise NotImplementedError


def _as_text(raw) -> str:
    if isinstance(raw, datetime):
        return raw.date().isoformat() if raw.time() == datetime.min.time() else raw.isoformat(sep=" ")
    if isinstance(raw, date):
        return raw.isoformat()
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    return str(raw).strip()


class Text(Parser):
    def __init__(self, max_length: int = 200, upper: bool = False, pattern: str | None = None,
                 pattern_message=None):
        self.max_length, self.upper = max_length, upper
        self.pattern = re.compile(pattern) if pattern else None
        self.pattern_message = pattern_message
        self.hint = _l("Text, at most %(n)d characters", n=max_length)

    def parse(self, raw):
        text = _as_text(raw)
        if self.upper:
            text = text.upper()
        if len(text) > self.max_length:
            raise CellError(_("At most %(n)d characters (this has %(m)d).", n=self.max_length, m=len(text)))
        if self.pattern and not self.pattern.match(text):
            raise CellError(str(self.pattern_message or _("Not in the expected format.")))
        return text


class TextList(Parser):
    """Several values in one cell, separated by 、 , ; or a line break."""

    SPLIT = re.compile(r"[,，、;；\n]+")

    def __init__(self, max_length: int = 60):
        self.max_length = max_length
        self.hint = _l("Several values separated by 、 or ;")

    def parse(self, raw):
        items = [p.strip() for p in self.SPLIT.split(_as_text(raw)) if p.strip()]
        for item in items:
            if len(item) > self.max_length:
                raise CellError(_("“%(item)s”: at most %(n)d characters.", item=item, n=self.max_length))
        return list(dict.fromkeys(items))


class Integer(Parser):
    def __init__(self, minimum: int | None = None, maximum: int | None = None):
        self.minimum, self.maximum = minimum, maximum
        self.hint = _l("A whole number")

    def parse(self, raw):
        if isinstance(raw, bool):
            raise CellError(_("Enter a whole number."))
        try:
            number = Decimal(_as_text(raw).replace(",", ""))
        except InvalidOperation:
            raise CellError(_("Enter a whole number.")) from None
        if not number.is_finite() or number != number.to_integral_value():
            raise CellError(_("Enter a whole number."))
        value = int(number)
        if self.minimum is not None and value < self.minimum or self.maximum is not None and value > self.maximum:
            raise CellError(_("Enter a number from %(low)s to %(high)s.", low=self.minimum, high=self.maximum))
        return value


class Number(Parser):
    """An exact decimal (money, rates): never a float. ``12.30`` stays 12.30; more
    decimals than ``places`` is an error, not a silent rounding."""

    _CLEAN = re.compile(r"[,\s¥￥]|元$|CNY|RMB", re.IGNORECASE)

    def __init__(self, places: int = 2, minimum: Decimal | None = None, maximum: Decimal | None = None,
                 percent: bool = False):
        self.places, self.minimum, self.maximum, self.percent = places, minimum, maximum, percent
        self.hint = _l("A number with at most %(n)d decimals", n=places)

    def parse(self, raw):
        if isinstance(raw, bool):
            raise CellError(_("Enter a number."))
        text = self._CLEAN.sub("", _as_text(raw))
        scale = Decimal(1)
        if self.percent and text.endswith("%"):
            text, scale = text[:-1], Decimal("0.01")
        try:
            number = Decimal(text) * scale
        except InvalidOperation:
            raise CellError(_("Enter a number.")) from None
        if not number.is_finite():
            raise CellError(_("Enter a number."))
        quantum = Decimal(1).scaleb(-self.places)
        if number != number.quantize(quantum):
            raise CellError(_("At most %(n)d decimals.", n=self.places))
        number = number.quantize(quantum)
        if self.minimum is not None and number < self.minimum:
            raise CellError(_("Must be at least %(n)s.", n=self.minimum))
        if self.maximum is not None and number > self.maximum:
            raise CellError(_("Must be at most %(n)s.", n=self.maximum))
        return number


class Day(Parser):
    _FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")

    def __init__(self):
        self.hint = _l("A date, e.g. 2025-12-31")

    def parse(self, raw):
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        if isinstance(raw, (int, Decimal)) and 20000 <= raw <= 80000 and raw == int(raw):
            return date(1899, 12, 30) + timedelta(days=int(raw))  # an Excel serial date left unformatted
        text = _as_text(raw).split(" ")[0]
        for fmt in self._FORMATS:
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        raise CellError(_("Enter a date as YYYY-MM-DD."))


class Flag(Parser):
    TRUE = {"是", "y", "yes", "true", "1", "√", "✓", "t"}
    FALSE = {"否", "n", "no", "false", "0", "×", "f"}

    def __init__(self):
        self.hint = _l("是 or 否 (yes or no)")

    def parse(self, raw):
        if isinstance(raw, bool):
            return raw
        text = _as_text(raw).lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise CellError(_("Enter 是 or 否 (yes or no)."))


class Choice(Parser):
    """One of a fixed set; each value may be typed as its code or any of its labels."""

    def __init__(self, options: dict[str, tuple]):
        self.options = options
        self.lookup = {}
        for value, labels in options.items():
            for label in (value, *labels):
                self.lookup[str(label).strip().lower()] = value
        self.hint = _l("One of: %(options)s", options=" / ".join(str(labels[0]) if labels else value
                                                               for value, labels in options.items()))

    def parse(self, raw):
        value = self.lookup.get(_as_text(raw).lower())
        if value is None:
            raise CellError(_("Choose one of: %(options)s.", options=" / ".join(
                str(labels[0]) if labels else value for value, labels in self.options.items())))
        return value


class Reference(Parser):
    """A code naming another record (a region, a dealer, a SKU), resolved to its id;
    every code of the column is looked up in one query."""

    def __init__(self, model, label, code_attr: str = "code", upper: bool = True):
        self.model, self.label, self.code_attr, self.upper = model, label, code_attr, upper
        self.ids: dict[str, int] = {}
        self.hint = _l("The code of an existing %(what)s", what=label)

    def _key(self, raw) -> str:
        text = _as_text(raw)
        return text.upper() if self.upper else text

    def prepare(self, session, raws):
        self.ids = {}
        codes = sorted({self._key(r) for r in raws if r is not None and not isinstance(r, Rejected)})
        column = getattr(self.model, self.code_attr)
        for i in range(0, len(codes), 1000):
            for code, id_ in session.execute(select(column, self.model.id).where(column.in_(codes[i:i + 1000]))):
                self.ids[self._key(code)] = id_

    def resolve(self, code: str) -> int:
        # Every row is parsed before any is applied: a code must name a record that
        # exists before the import (a record made by another row of the file does not count).
        if code not in self.ids:
            raise CellError(_("No %(what)s has the code “%(code)s”.", what=self.label, code=code))
        return self.ids[code]

    def parse(self, raw):
        return self.resolve(self._key(raw))


class ReferenceList(Reference):
    """Several codes in one cell (separated by 、 , ;), resolved to a list of ids."""

    def __init__(self, model, label, code_attr: str = "code", upper: bool = True):
        super().__init__(model, label, code_attr, upper)
        self.hint = _l("Codes of existing %(what)s, separated by 、 or ;", what=label)

    def _codes(self, raw) -> list[str]:
        return [c.strip().upper() if self.upper else c.strip() for c in TextList.SPLIT.split(_as_text(raw)) if c.strip()]

    def prepare(self, session, raws):
        flat = [c for r in raws if r is not None and not isinstance(r, Rejected) for c in self._codes(r)]
        super().prepare(session, flat)

    def parse(self, raw):
        return list(dict.fromkeys(self.resolve(code) for code in self._codes(raw)))


# --- specs -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    #: the key in ``values`` handed to ``apply`` (a model attribute name)
    key: str
    #: the canonical (Chinese) header, as in the template
    header: str
    #: an English header accepted as well
    alias: str
    parser: Parser
    required: bool = False
    note: Any = ""
    example: Any = None


@dataclass(frozen=True)
class ImportSpec:
    name: str
    label: Any
    roles: tuple[str, ...]
    columns: tuple[Column, ...]
    #: the columns that identify a record: an existing record with these values is
    #: changed, and two rows of one file may not share them
    key: tuple[str, ...]
    #: ``apply(session, values, existing, user)`` creates or changes one record
    apply: Callable[..., Any]
    #: ``find(session, values)`` → the existing record the row is about, or None
    find: Callable[[Session, dict], Any] | None = None
    description: Any = ""

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)


SPECS: dict[str, ImportSpec] = {}


def register_import(spec: ImportSpec) -> ImportSpec:
    SPECS[spec.name] = spec
    return spec


def specs_for(user) -> list[ImportSpec]:
    """The entities ``user`` may import, in registration order."""
    return [s for s in SPECS.values() if user.has_role(*s.roles)]


def load_specs() -> None:
    """Import the domain modules that register import specs and list exports."""
    from app.catalog import exports as _catalog_exports  # noqa: F401
    from app.catalog import imports as _catalog  # noqa: F401
    from app.channel import exports as _channel_exports  # noqa: F401
    from app.channel import imports as _channel  # noqa: F401
    from app.compliance import expiry as _expiry_export  # noqa: F401
    from app.compliance import exports as _exports  # noqa: F401
    from app.pricing import exports as _pricing_exports  # noqa: F401
    from app.inventory import imports as _inventory  # noqa: F401
    from app.inventory import sellout as _sellout_export  # noqa: F401
    from app.orders import queries as _orders_export  # noqa: F401
    from app.finance import queries as _finance_exports  # noqa: F401
    from app.pricing import imports as _pricing  # noqa: F401
    from app.finance import two_invoice as _two_invoice_export  # noqa: F401
    from app.rebates import ledger_queries as _rebate_balances_export  # noqa: F401
    from app.service import queries as _installed_base_export  # noqa: F401
    from app.service import tickets as _tickets_export  # noqa: F401


# --- checking and applying a table ---------------------------------------------------------

@dataclass
class Outcome:
    total: int = 0
    #: rows that passed every check (written, unless the file is refused or a dry run)
    taken: int = 0
    errors: list[dict] = field(default_factory=list)
    #: row number → its errors' messages, for the report
    by_row: dict[int, list[str]] = field(default_factory=dict)

    def add(self, row: int | None, column: str, value, message: str) -> None:
        text = "" if value is None else str(value)
        self.errors.append({"row": row, "column": column, "value": text[:200], "message": str(message)})
        if row is not None:
            prefix = f"{column}: " if column else ""
            self.by_row.setdefault(row, []).append(prefix + str(message))

    @property
    def rows_with_errors(self) -> int:
        return len(self.by_row)


def _norm(header: str) -> str:
    return re.sub(r"\s+", "", str(header)).rstrip("*＊").lower()


def match_columns(spec: ImportSpec, headers: list[str]) -> tuple[dict[int, Column], list[str]]:
    """Which file column holds which spec column; and the problems (missing required
    columns). Unknown columns (a remarks column, say) are ignored."""
    wanted = {}
    for col in spec.columns:
        wanted[_norm(col.header)] = col
        wanted[_norm(col.alias)] = col
    found: dict[int, Column] = {}
    problems = []
    for index, header in enumerate(headers):
        col = wanted.get(_norm(header)) if header else None
        if col is None:
            continue
        if col in found.values():
            problems.append(_("The column “%(name)s” appears twice.", name=col.header))
            continue
        found[index] = col
    for col in spec.columns:
        if col.required and col not in found.values():
            problems.append(_("The required column “%(name)s” is missing: use the template's headers.", name=col.header))
    return found, problems


def import_table(session: Session, spec: ImportSpec, table: Table, user=None,
                 progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Check every row of ``table`` and apply the good ones through ``spec.apply``.
    Never commits or rolls back the transaction: the caller keeps the writes only if
    ``outcome.errors`` is empty (all or nothing)."""
    outcome = Outcome(total=len(table.rows))
    found, problems = match_columns(spec, table.headers)
    for message in problems:
        outcome.add(1, "", "", message)
    if problems:
        return outcome
    # Parsers keep per-file state (resolved codes): each run works on its own copies.
    parsers = {col.key: copy.copy(col.parser) for col in found.values()}
    for index, col in found.items():
        parsers[col.key].prepare(session, [row.values[index] for row in table.rows])

    parsed: list[tuple[int, dict, dict]] = []  # row number, values, raw text per key
    bad_rows: set[int] = set()
    for row in table.rows:
        values, raws = {}, {}
        for index, col in found.items():
            raw = row.values[index]
            raws[col.key] = raw
            if isinstance(raw, Rejected):
                outcome.add(row.number, col.header, raw.raw, raw.message)
                bad_rows.add(row.number)
            elif raw is None:
                if col.required:
                    outcome.add(row.number, col.header, "", _("This column is required."))
                    bad_rows.add(row.number)
            else:
                try:
                    values[col.key] = parsers[col.key].parse(raw)
                except CellError as err:
                    outcome.add(row.number, col.header, _as_text(raw), err.message)
                    bad_rows.add(row.number)
        parsed.append((row.number, values, raws))

    # Duplicates inside the file: reported on every row that shares a key.
    seen: dict[tuple, list[int]] = {}
    for number, values, _raws in parsed:
        if spec.key and spec.key[0] in values:
            seen.setdefault(tuple(_key_part(values.get(k)) for k in spec.key), []).append(number)
    key_header = " + ".join(spec.column(k).header for k in spec.key if spec.column(k)) if len(spec.key) <= 3 \
        else _("values")
    for key, numbers in seen.items():
        if len(numbers) > 1:
            for number in numbers:
                others = ", ".join(str(n) for n in numbers if n != number)
                outcome.add(number, key_header, " / ".join(str(_as_text(k)) for k in key if k is not None),
                            _("Duplicate: rows %(rows)s of this file have the same %(key)s.", rows=others, key=key_header))
                bad_rows.add(number)

    done = 0
    for number, values, raws in parsed:
        done += 1
        if progress and done % PROGRESS_EVERY == 0:
            progress(done, outcome.total)
        if number in bad_rows:
            continue
        try:
            with session.begin_nested():
                existing = spec.find(session, values) if spec.find else None
                spec.apply(session, values, existing, user)
                session.flush()
        except InvalidInput as err:
            _forget_audit_chain(session)
            col = spec.column(err.field) if err.field else None
            outcome.add(number, col.header if col else "", _as_text(raws.get(err.field)) if col and raws.get(err.field)
                        is not None else "", err.message)
        except (IntegrityError, DataError) as err:
            _forget_audit_chain(session)
            constraint = getattr(getattr(getattr(err, "orig", None), "diag", None), "constraint_name", None)
            outcome.add(number, "", "", _("The row conflicts with the data already there (%(rule)s).",
                                          rule=constraint or type(err.orig).__name__))
        else:
            outcome.taken += 1
    if progress:
        progress(outcome.total, outcome.total)
    return outcome


def _key_part(value):
    return value.upper() if isinstance(value, str) else tuple(sorted(value)) if isinstance(value, list) else value


def _forget_audit_chain(session: Session) -> None:
    # A rolled-back savepoint took its audit events with it: the next event must read
    # the chain's end from the database again, not from memory.
    session.info.pop("audit_chain", None)


def check_and_import(session: Session, spec: ImportSpec, filename: str, data: bytes, user=None,
                     progress=None) -> tuple[Table | None, Outcome]:
    """``read_table`` then ``import_table``; a file that cannot be read at all gives one
    error (row None) and no table."""
    try:
        table = read_table(filename, data)
    except TableError as err:
        outcome = Outcome()
        outcome.add(None, "", filename, err.message)
        return None, outcome
    return table, import_table(session, spec, table, user, progress)


# --- templates and reports ---------------------------------------------------------------

def template_xlsx(spec: ImportSpec) -> bytes:
    """The template: the Chinese headers and one example row, and a notes sheet saying
    what each column takes."""
    notes = [[c.header, c.alias, _("Yes") if c.required else _("No"), str(c.parser.hint), str(c.note or "")]
             for c in spec.columns]
    general = [
        [_("One row per record; the first row holds the column names (Chinese or English)."), "", "", "", ""],
        [_("A row whose key matches an existing record changes that record; other rows create new ones."), "", "", "", ""],
        [_("Blank optional cells leave the current value unchanged."), "", "", "", ""],
        [_("The whole file is imported or nothing is: fix the reported rows and upload it again."), "", "", "", ""],
        [_("Remove the example row before importing."), "", "", "", ""],
    ]
    return write_xlsx([
        Sheet(str(spec.label), [c.header for c in spec.columns], [[c.example for c in spec.columns]],
              widths=[max(12, min(40, len(c.header) * 3 + 4)) for c in spec.columns]),
        Sheet(_("Notes"), [_("Column"), _("English header"), _("Required"), _("What to enter"), _("Notes")],
              notes + [["", "", "", "", ""]] + general, widths=[18, 22, 10, 40, 60]),
    ])


def report_xlsx(spec: ImportSpec | None, filename: str, table: Table | None, outcome: Outcome, status: str,
                dry_run: bool) -> bytes:
    """The validation report: the file's rows with an Errors column, and a summary."""
    errors_header = "错误 / Errors"
    sheets = []
    if table is not None:
        rows = ([row.number] + [_cell_text(v) for v in row.values] + ["; ".join(outcome.by_row.get(row.number, []))]
                for row in table.rows)
        sheets.append(Sheet(_("Rows of the file"), ["#"] + table.headers + [errors_header], rows))
    status_label = {"imported": _("Imported"), "checked": _("Checked, nothing written (dry run)"),
                    "rejected": _("Refused, nothing written")}.get(status, status)
    summary = [
        [_("File"), filename],
        [_("Data"), str(spec.label) if spec else ""],
        [_("Outcome"), status_label],
        [_("Dry run"), _("Yes") if dry_run else _("No")],
        [_("Rows"), outcome.total],
        [_("Rows without errors"), outcome.taken],
        [_("Rows with errors"), outcome.rows_with_errors],
        [_("Errors"), len(outcome.errors)],
    ]
    file_level = [[_("File"), e["message"]] for e in outcome.errors if e["row"] is None or (e["row"] == 1 and not
                                                                                          e["column"])]
    sheets.insert(0, Sheet(_("Summary"), [_("Item"), _("Value")], summary + file_level, widths=[24, 80]))
    sheets.append(Sheet(_("Errors"), [_("Row"), _("Column"), _("Value"), _("Message")],
                        ([e["row"], e["column"], e["value"], e["message"]] for e in outcome.errors),
                        widths=[8, 20, 30, 80]))
    return write_xlsx(sheets)


def _cell_text(value):
    return value.raw if isinstance(value, Rejected) else value
