#!/usr/bin/env bash
# Installs everything the project needs, idempotently and offline-friendly:
#   .venv            Python 3.11 with the package and its dev tools
#   .tools/bin/opa   pinned OPA (or a matching `opa` already on PATH)
#   .tools/bin/conftest  pinned conftest, to test the pack the way the ecosystem runs it
#   .tools/bin/actionlint  pinned actionlint, for the GitHub workflows (zizmor comes with .venv)
#   .tools/bin/sarif-multitool  pinned SARIF Multitool, to validate the SARIF report in the tests
#   .venv-checkov    checkov in its own virtualenv (its pins conflict with pulumi)
#   .tools/crds      Karpenter and Kueue CRD schemas from the Go module proxy
# Fast when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
pin() { sed -n "s/^$1 = \"\(.*\)\"/\1/p" components/versions.py; }
OPA_VERSION=$(pin OPA_VERSION)
KARPENTER_VERSION=$(pin KARPENTER_VERSION)
KUEUE_VERSION=$(pin KUEUE_VERSION)
CHECKOV_VERSION=$(pin CHECKOV_VERSION)
CONFTEST_VERSION=$(pin CONFTEST_VERSION)
ACTIONLINT_VERSION=$(pin ACTIONLINT_VERSION)
SARIF_MULTITOOL_VERSION=$(pin SARIF_MULTITOOL_VERSION)
PYTHON=${PYTHON:-python3.11}
mkdir -p .tools/bin .tools/crds

stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

# 1. Python virtualenv with the package (editable) and dev tools.
py_key=$(cat pyproject.toml | sha256sum | cut -c1-16)
if ! stamp_ok .venv/.burst-stamp "$py_key"; then
  echo "setup: installing Python dependencies into .venv" >&2
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade "pip>=24,<27"
  .venv/bin/python -m pip install --quiet -e '.[dev,crossguard]'
  echo "$py_key" > .venv/.burst-stamp
fi

# 2. OPA: reuse a matching binary on PATH, else build the pinned release with go install.
if ! stamp_ok .tools/opa-stamp "$OPA_VERSION"; then
  if command -v opa >/dev/null 2>&1 && opa version 2>/dev/null | grep -q "^Version: ${OPA_VERSION}$"; then
    ln -sf "$(command -v opa)" .tools/bin/opa
  else
    echo "setup: building OPA v${OPA_VERSION} with go install" >&2
    GOBIN="$ROOT/.tools/bin" CGO_ENABLED=0 GOFLAGS=-mod=mod \
      go install "github.com/open-policy-agent/opa@v${OPA_VERSION}"
  fi
  .tools/bin/opa version | grep -q "^Version: ${OPA_VERSION}$"
  echo "$OPA_VERSION" > .tools/opa-stamp
fi

# 2b. conftest, built like OPA (about 90 s cold, nothing when the stamp matches).
if ! stamp_ok .tools/conftest-stamp "$CONFTEST_VERSION"; then
  echo "setup: building conftest v${CONFTEST_VERSION} with go install" >&2
  GOBIN="$ROOT/.tools/bin" CGO_ENABLED=0 GOFLAGS=-mod=mod \
    go install "github.com/open-policy-agent/conftest@v${CONFTEST_VERSION}"
  echo "$CONFTEST_VERSION" > .tools/conftest-stamp
fi

# 2c. actionlint, built the same way (seconds once the Go caches hold it).
if ! stamp_ok .tools/actionlint-stamp "$ACTIONLINT_VERSION"; then
  echo "setup: building actionlint v${ACTIONLINT_VERSION} with go install" >&2
  GOBIN="$ROOT/.tools/bin" CGO_ENABLED=0 GOFLAGS=-mod=mod \
    go install "github.com/rhysd/actionlint/cmd/actionlint@v${ACTIONLINT_VERSION}"
  echo "$ACTIONLINT_VERSION" > .tools/actionlint-stamp
fi

# 2d. The SARIF Multitool from npm (a self-contained .NET build; no runtime to install).
if ! stamp_ok .tools/sarif-multitool-stamp "$SARIF_MULTITOOL_VERSION"; then
  echo "setup: installing SARIF Multitool ${SARIF_MULTITOOL_VERSION} from npm" >&2
  rm -rf .tools/sarif-multitool
  npm install --silent --no-save --no-audit --no-fund --ignore-scripts \
    --prefix .tools/sarif-multitool "@microsoft/sarif-multitool-linux@${SARIF_MULTITOOL_VERSION}"
  multitool=.tools/sarif-multitool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
  chmod u+x "$multitool"
  ln -sf "$ROOT/$multitool" .tools/bin/sarif-multitool
  echo "$SARIF_MULTITOOL_VERSION" > .tools/sarif-multitool-stamp
fi

# 3. checkov in its own virtualenv, used as a CLI only.
if ! stamp_ok .venv-checkov/.burst-stamp "$CHECKOV_VERSION"; then
  echo "setup: installing checkov ${CHECKOV_VERSION} into .venv-checkov" >&2
  [ -x .venv-checkov/bin/python ] || "$PYTHON" -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install --quiet "checkov==${CHECKOV_VERSION}"
  echo "$CHECKOV_VERSION" > .venv-checkov/.burst-stamp
fi

# 4. CRD schemas from the Go module proxy (never committed to the repository).
module_dir() {
  GOFLAGS=-mod=mod go mod download -json "$1" \
    | "$ROOT/.venv/bin/python" -c 'import json,sys; d=json.load(sys.stdin); e=d.get("Error"); sys.exit("setup: "+e) if e else print(d["Dir"])'
}
crd_key="karpenter-${KARPENTER_VERSION}+kueue-${KUEUE_VERSION}+pricing"
if ! stamp_ok .tools/crds/.stamp "$crd_key"; then
  echo "setup: fetching Karpenter v${KARPENTER_VERSION} and Kueue v${KUEUE_VERSION} CRDs" >&2
  rm -f .tools/crds/*.yaml .tools/crds/*.go
  karpenter=$(module_dir "github.com/aws/karpenter-provider-aws@v${KARPENTER_VERSION}")
  kueue=$(module_dir "sigs.k8s.io/kueue@v${KUEUE_VERSION}")
  cp "$karpenter"/pkg/apis/crds/karpenter.sh_nodepools.yaml \
     "$karpenter"/pkg/apis/crds/karpenter.k8s.aws_ec2nodeclasses.yaml .tools/crds/
  cp "$kueue"/config/components/crd/bases/kueue.x-k8s.io_*.yaml .tools/crds/
  # Karpenter's generated On-Demand price table: the tests check burst cost's prices against it.
  cp "$karpenter"/pkg/providers/pricing/zz_generated.pricing_aws.go .tools/crds/karpenter-pricing.go
  chmod u+w .tools/crds/*.yaml .tools/crds/*.go
  echo "$crd_key" > .tools/crds/.stamp
fi
