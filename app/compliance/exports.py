"""List exports to Excel: every list page can hand its rows, as the user sees them
there (same scope, same filters), to one background job (``data.export_xlsx``).

A list registers itself once, in its domain::

    register_export("dealers", _l("Dealers"), roles, headers, rows, params=("q", "region"))

``rows(session, user, params)`` yields one list of cell values per row; it should walk
the page's own query (scope is applied inside queries), so that an export can never
show more than the page. Every value goes through ``tabular.safe_cell``: text typed by
a user never becomes a formula in the file.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sqlalchemy.orm import Session

from app.core.coerce import as_id
from app.core.tabular import Sheet, write_xlsx

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_EXPORT_ROWS = 200_000


@dataclass(frozen=True)
class ListExport:
    name: str
    label: Any
    roles: tuple[str, ...]
    #: column headers (lazy strings are translated in the job, in the default language)
    headers: tuple
    rows: Callable[[Session, Any, dict], Iterable[list]]
    #: the query parameters of the list page that filter it (anything else is dropped)
    params: tuple[str, ...] = ("q",)
    #: ``found(session, user, params)``: False when the record the list belongs to (a
    #: price list's items) is missing or out of the user's reach (the export answers 404)
    found: Callable[[Session, Any, dict], bool] | None = None

    def allows(self, user) -> bool:
        return user.portal == "manufacturer" and (not self.roles or user.has_role(*self.roles))

    def clean_params(self, values) -> dict:
        return {k: str(values.get(k, ""))[:200] for k in self.params if values.get(k)}


EXPORTS: dict[str, ListExport] = {}


def register_export(name: str, label, roles: tuple[str, ...], headers, rows, params: tuple[str, ...] = ("q",),
                    found=None) -> ListExport:
    export = ListExport(name, label, tuple(roles), tuple(headers), rows, tuple(params), found)
    EXPORTS[name] = export
    return export


def export_xlsx(session: Session, export: ListExport, user, params: dict, progress=None) -> bytes:
    def counted():
        for n, row in enumerate(export.rows(session, user, params), 1):
            if n > MAX_EXPORT_ROWS:
                break
            if progress and n % 1000 == 0:
                progress(n)
            yield row

    return write_xlsx([Sheet(str(export.label), [str(h) for h in export.headers], counted())])


def walk_pages(page_of: Callable[[str | None], Any]):
    """Every item of a keyset-paged list: ``page_of(cursor)`` is the page's own query."""
    cursor = None
    while True:
        page = page_of(cursor)
        yield from page.items
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def walk_batches(page_of: Callable[[str | None], Any]):
    """Like ``walk_pages`` but one page's items at a time, so that an export can complete
    a page's rows with one query (names of the SKUs or hospitals they refer to)."""
    cursor = None
    while True:
        page = page_of(cursor)
        yield page.items
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def id_param(params: dict, name: str) -> int | None:
    """A record id from a list page's query string, read as the list pages read it (else None)."""
    return as_id(params.get(name))


def choice_param(params: dict, name: str, allowed) -> str:
    """A filter value the page accepts, or '' (the page ignores any other)."""
    value = str(params.get(name, "") or "")
    return value if value in allowed else ""


def search_param(params: dict) -> str:
    """The search box, cut as the list pages cut it."""
    return str(params.get("q", "") or "")[:100]
