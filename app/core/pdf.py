"""PDF documents with WeasyPrint, from trusted templates only (templates/documents/).

The URL fetcher serves our own static files and ``data:`` URIs and refuses everything
else, so no value that reaches a template can make the renderer read a local file or
call a network address. Chinese renders with a real CJK font (Noto Sans CJK, from
Debian's fonts-noto-cjk), selected by templates/documents/base.html.

WeasyPrint is imported on first use: web processes never render PDFs (workers do), and
the import costs ~25 MiB per process.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template


@lru_cache(maxsize=None)
def _fetcher_class():
    from weasyprint.urls import URLFetcher

    class StaticOnlyFetcher(URLFetcher):
        """Fetches files under ``static_root`` and ``data:`` URIs; refuses the rest."""

        def __init__(self, static_root: Path):
            super().__init__(allowed_protocols={"file", "data"}, allow_redirects=False, timeout=5)
            self.static_root = static_root.resolve()
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            parts = urlsplit(url)
            if parts.scheme == "file":
                path = Path(unquote(parts.path)).resolve()
                if self.static_root in path.parents and path.is_file():
                    return super().fetch(url, headers)
            elif parts.scheme == "data":
                return super().fetch(url, headers)
            self.refused.append(url)
            raise ValueError(f"documents may only use the application's static files, not {url[:100]!r}")

    return StaticOnlyFetcher


def static_only_fetcher(static_root: Path):
    return _fetcher_class()(static_root)


def render_pdf(template: str, **context) -> bytes:
    from weasyprint import HTML

    html = render_template(template, **context)
    static_root = Path(current_app.static_folder)
    return HTML(string=html, base_url=str(static_root) + "/", url_fetcher=static_only_fetcher(static_root)).write_pdf()


#: more to load before a worker forks its work horses (a domain's font metrics…)
WARM_UPS: list[Callable[[], object]] = []


def warm_up() -> None:
    """Load WeasyPrint, the CJK fonts, the document templates, the translations and
    openpyxl once, in a worker's parent process: RQ forks a work horse per job, and each
    would pay the imports (~1 s for WeasyPrint, ~0.1 s for openpyxl) and the font loading
    again; what the parent loaded, every horse has."""
    import openpyxl  # noqa: F401  (spreadsheet jobs: exports, import reports, statements)
    from flask_babel import get_translations
    from weasyprint import HTML

    get_translations()
    HTML(string='<p style="font-family: \'Noto Sans CJK SC\'">预热 warm-up</p>'
                '<pre style="font-family: \'Noto Sans Mono CJK SC\'">预热 warm-up</pre>').render().write_pdf()
    env = current_app.jinja_env
    for name in env.list_templates(filter_func=lambda n: n.startswith("documents/")):
        env.get_template(name)
    for fn in WARM_UPS:
        fn()
