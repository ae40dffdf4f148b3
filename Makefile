# `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install tools run prometheus test lint typecheck unit suite bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian's prometheus (prometheus, promtool) and docker-compose: the tests run a real
# Prometheus and validate the compose file. Installed with apt-get when missing and
# running as root (the package's own system service is disabled again: it would take
# port 9090); otherwise say what is missing (those tests fail under CI=true).
tools:
	@missing=""; for t in prometheus promtool docker-compose; do \
	  command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing prometheus and docker-compose with apt-get (missing:$$missing)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends prometheus docker-compose >/dev/null; \
	    if [ -d /run/systemd/system ]; then \
	      systemctl disable --now prometheus >/dev/null 2>&1 || true; \
	    fi; \
	  else \
	    echo "missing:$$missing -- install Debian's prometheus and docker-compose packages"; \
	  fi; \
	fi

run: $(STAMP)
	$(VENV)/bin/exchange run

# A local Prometheus scraping `make run` (http://127.0.0.1:9090), data in .prometheus/
prometheus: tools
	prometheus --config.file=prometheus.yml --storage.tsdb.path=.prometheus \
	  --web.listen-address=127.0.0.1:9090

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict platform/grafana/build_dashboards.py platform/grafana/render.py

# The fast core: every test but those marked slow_io (subprocesses, sockets, killed
# writers) or external (prometheus/promtool, docker-compose, the bench peers from PyPI).
unit: $(STAMP)
	$(PY) -m pytest -m "not slow_io and not external"

# Every test; the tools first, for the external ones.
suite: $(STAMP) tools
	$(PY) -m pytest

test: lint typecheck suite

# The whole suite: our benchmarks and the peers side by side (each peer in its own
# throwaway environment), results and chart in bench/results/ (see bench/suite.py).
bench: $(STAMP)
	$(PY) bench/suite.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .prometheus
