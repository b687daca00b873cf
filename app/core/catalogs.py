"""Translation catalogues: ``python -m app.core.catalogs update|check``.

``update`` extracts every marked string, merges it into the zh_CN and en catalogues,
fills English with the source text (our msgids are English) and compiles both.
``check`` reports strings missing from either catalogue; the test suite runs it.
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "app" / "translations"
LOCALES = ("zh_CN", "en")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
METHODS = [("app/**.py", "python"), ("portals/**.py", "python"), ("templates/**.html", "jinja2")]


def extract() -> Catalog:
    template = Catalog(project="MedChannel")
    for message in extract_from_dir(ROOT, METHODS, keywords=KEYWORDS, options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}}):
        filename, lineno, msgid, comments, context = message
        if any(part in filename for part in (".venv", "node_modules", "instance")):
            continue
        template.add(msgid, locations=[(filename, lineno)], auto_comments=comments, context=context)
    return template


def _po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def _read(locale: str) -> Catalog:
    path = _po_path(locale)
    if not path.exists():
        return Catalog(locale=locale, project="MedChannel")
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _write(catalog: Catalog, locale: str) -> None:
    path = _po_path(locale)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    write_po(buf, catalog, width=0, omit_header=False, no_location=True, sort_output=True, ignore_obsolete=True)
    path.write_bytes(buf.getvalue())


def compile_all() -> None:
    """Write each .mo where Babel looks for it: under the locale's canonical name
    (zh_CN parses as zh_Hans_CN), beside nothing else (the .mo files are not committed)."""
    for locale in LOCALES:
        catalog = _read(locale)
        target = TRANSLATIONS / str(Locale.parse(locale)) / "LC_MESSAGES" / "messages.mo"
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as f:
            write_mo(f, catalog, use_fuzzy=False)


def missing(template: Catalog | None = None) -> dict[str, list[str]]:
    template = template or extract()
    gaps = {}
    for locale in LOCALES:
        catalog = _read(locale)
        gaps[locale] = [m.id for m in template if m.id and (
            catalog.get(m.id, m.context) is None or not catalog.get(m.id, m.context).string or catalog.get(m.id, m.context).fuzzy)]
    return gaps


def update() -> None:
    template = extract()
    for locale in LOCALES:
        catalog = _read(locale)
        catalog.update(template, no_fuzzy_matching=True)
        if locale == "en":
            for message in catalog:
                if message.id and not message.string:
                    message.string = message.id
        _write(catalog, locale)
    compile_all()


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        update()
    elif command == "compile":
        compile_all()
        return 0
    gaps = missing()
    for locale, ids in gaps.items():
        for msgid in ids:
            print(f"{locale}: untranslated: {msgid!r}")
    return 1 if any(gaps.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
