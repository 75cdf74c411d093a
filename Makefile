# `make run` and `make test` install what is missing first, so both work from a fresh clone.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: run test lint typecheck clean chromium nginx node

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip==25.3
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	# The Lambda package (x86_64) copies this environment's wheels, and Lambda's glibc is 2.26:
	# take cryptography's manylinux2014 build, not the newer-glibc one pip picks for this machine.
	if [ "$$(uname -m)" = x86_64 ]; then \
	  $(VENV)/bin/python -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
	    --python-version 3.11 --implementation cp -d $(VENV)/lambda-wheels "$$(grep -o 'cryptography==[0-9.]*' pyproject.toml)" && \
	  $(VENV)/bin/python -m pip install --quiet --no-deps --force-reinstall $(VENV)/lambda-wheels/cryptography-*.whl; \
	fi
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/wavecom up

# The browser tests drive Debian's chromium (Playwright's own browser download is not used).
chromium:
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

# The gateway test runs Debian's nginx in front of real API processes (infra/nginx/nginx.conf).
nginx:
	test -x /usr/sbin/nginx || (apt-get update && apt-get install -y nginx)

# Node tools of the tests (package.json says which and why), at the lockfile's exact versions.
$(NODE_STAMP): package.json package-lock.json | node
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# Debian's Node.js and npm, for newman (the Postman collection's test run).
node:
	command -v npm >/dev/null || (apt-get update && apt-get install -y nodejs npm)

test: $(STAMP) $(NODE_STAMP) chromium nginx
	$(VENV)/bin/ruff check shared functions local static_site tests
	$(VENV)/bin/mypy
	$(VENV)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check shared functions local static_site tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) node_modules .wavecom .pytest_cache
