# The two commands a newcomer needs: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test install system-deps translations check-translations bench clean

demo: install
	$(BIN)/python -m app.demo.runner

test: install system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(STAMP)
	$(BIN)/python -m app.core.catalogs compile

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "MedChannel needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Headless Chromium, a CJK font and the Pango libraries WeasyPrint renders PDFs with (Debian packages).
system-deps:
	@if command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi 'cjk'; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0; \
	else \
		echo "Install Chromium and a CJK font first, e.g. sudo apt-get install chromium fonts-noto-cjk"; exit 1; \
	fi

# After changing user-facing text: extract, merge into zh_CN and en, compile.
translations: $(STAMP)
	$(BIN)/python -m app.core.catalogs update
	$(BIN)/python -m app.core.catalogs check

check-translations: $(STAMP)
	$(BIN)/python -m app.core.catalogs check

bench: install
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) instance/test
