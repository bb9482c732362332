# burst-platform: every target installs what it needs through `make setup` first.
VENV := .venv
PY := $(VENV)/bin/python
BURST := $(VENV)/bin/burst
OPA := .tools/bin/opa
STACK ?= prod

.PHONY: setup plan check test lint fmt policy-test policy-docs readme-tables bundle bench fuzz clean engine e2e

setup:
	@bash scripts/setup.sh

plan: setup
	@$(BURST) plan --stack $(STACK) --out build/$(STACK)-preview.json

check: setup
	@$(BURST) check --stack $(STACK)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(OPA) fmt --list --fail policies/
	$(OPA) check --strict policies/
	.tools/bin/actionlint
	$(VENV)/bin/zizmor --offline --quiet .github/workflows

fmt: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	$(OPA) fmt --write policies/

policy-test: setup
	$(OPA) test --ignore '*.json' --ignore '*.yaml' --ignore '*.yml' -v \
		policies/ burst.guardrails:policies/data/guardrails.yaml

policy-docs: setup
	$(PY) -m burst_platform.policy_pack > policies/README.md

# The stack configuration table of README.md, from the field descriptions of infra/config.py.
# README.md's generated tables: the stack configuration and where each guardrail applies.
readme-tables: setup
	$(PY) scripts/readme_tables.py README.md

# The pack as an `opa build` bundle (.manifest roots ["burst"], revision = version+commit),
# for teams that serve the policies from their own OPA server.
bundle: setup
	@$(BURST) policies bundle --out build/burst-policies.tar.gz \
		--revision "$$($(PY) -c 'import burst_platform; print(burst_platform.version())')+$$(git rev-parse --short HEAD)"

test: lint
	$(VENV)/bin/pytest -q

bench: setup
	$(PY) -m bench.run

# Many more fuzz examples than `make test` runs (tests/test_fuzz_previews.py).
fuzz: setup
	BURST_FUZZ_EXAMPLES=$${BURST_FUZZ_EXAMPLES:-1000} $(VENV)/bin/pytest -q tests/test_fuzz_previews.py

# The real Pulumi engine, Kubernetes provider, etcd, kube-apiserver/-controller-manager and the
# Kueue controller, built from the Go module proxy into .tools/bin (about 17 min cold on 2 cores, under a second when built).
engine:
	@bash scripts/build_engine.sh

# The Kubernetes layer through the real engine into a throw-away API server (tests/e2e).
e2e: setup engine
	BURST_E2E=1 $(VENV)/bin/pytest -q tests/e2e

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .hypothesis
