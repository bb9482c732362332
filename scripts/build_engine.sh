#!/usr/bin/env bash
# Builds the pinned real Pulumi engine pieces into .tools/bin/ from the Go module proxy only:
#   pulumi                      Pulumi CLI                      (engine/pulumi)
#   pulumi-resource-kubernetes  Kubernetes provider plugin      (engine/kubernetes-provider)
#   etcd                        etcd server                     (engine/etcd)
#   kube-apiserver              Kubernetes API server           (engine/kubernetes)
#   kube-controller-manager     Kubernetes controller manager   (engine/kubernetes)
#   kueue                       Kueue controller manager        (engine/kueue)
# and links our own Python language host (engine/language_host, no build) next to them:
#   pulumi-language-python      burst's LanguageRuntime server  (engine/language_host)
# Versions come from engine/versions.env (Kueue's from components/versions.py). Each binary has a stamp
# .tools/engine-stamps/<name>-<version> holding a hash of its wrapper module, pins and flags; a
# binary whose stamp matches is skipped, so a warm run takes well under a second (a cold one
# 30-45 min on 2 cores).
# Usage: scripts/build_engine.sh [NAME...]   (default: all seven). Build logs: .tools/engine-logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=../engine/versions.env
source engine/versions.env
# Kueue is pinned where the components pin its chart and CRDs (components/versions.py), so the
# controller the e2e tests run is always the release the program deploys; engine/versions.env
# does not repeat it.
KUEUE_VERSION=v$(sed -n 's/^KUEUE_VERSION = "\(.*\)"/\1/p' components/versions.py)

BIN=$ROOT/.tools/bin
STAMPS=$ROOT/.tools/engine-stamps
LOGS=$ROOT/.tools/engine-logs
# Scratch dir outside the repository for the patched provider copy (a stable path keeps the
# Go build cache warm across rebuilds).
SCRATCH=${BURST_ENGINE_SCRATCH:-${TMPDIR:-/tmp}/burst-engine-build}
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local GOWORK=off

die() { echo "build_engine: $*" >&2; exit 1; }

PROVIDER_MOD=github.com/pulumi/pulumi-kubernetes/provider/v4
k8s_v=${KUBERNETES_VERSION#v}
k8s_minor=${k8s_v#*.}
K8S_LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  K8S_LDFLAGS+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=${k8s_v%%.*}"
  K8S_LDFLAGS+=" -X $pkg.gitMinor=${k8s_minor%%.*} -X $pkg.gitTreeState=clean"
done
PULUMI_LDFLAGS="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
PROVIDER_LDFLAGS="-s -w -X $PROVIDER_MOD/pkg/version.Version=$PULUMI_KUBERNETES_VERSION"
ETCD_LDFLAGS="-s -w"
# Kueue's release build stamps sigs.k8s.io/kueue/pkg/version (its Makefile's LD_FLAGS); the
# commit and date are not in the module zip, so only the version is set.
KUEUE_LDFLAGS="-s -w -X sigs.k8s.io/kueue/pkg/version.GitVersion=$KUEUE_VERSION"

# ---- build steps: each runs in its own process (`$0 __step NAME`) under `set -e` ----
step_pulumi() {
  cd engine/pulumi
  go build -trimpath -ldflags "$PULUMI_LDFLAGS" -o "$BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

step_pulumi-resource-kubernetes() {
  local src work
  src=$(cd engine/kubernetes-provider &&
    go mod download -json "$PROVIDER_MOD@$PULUMI_KUBERNETES_MODULE_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -n "$src" ] && [ -f "$src/cmd/pulumi-resource-kubernetes/schema.json" ] ||
    { echo "cannot download $PROVIDER_MOD@$PULUMI_KUBERNETES_MODULE_VERSION"; exit 1; }
  work=$SCRATCH/kubernetes-provider
  rm -rf "$work"
  mkdir -p "$work"
  cp -R "$src" "$work/provider"
  chmod -R u+w "$work/provider"
  # main.go embeds schema-embed.json and terraform-mapping-embed.json, which the module zip
  # lacks. Produce them as upstream does (`go generate` runs generate.go with VERSION set: the
  # schema re-marshalled through schema.PackageSpec, minified, with "version" filled in). Its
  # go.mod points sdk/v4 at ../sdk, absent here: drop that for the run, then restore the files
  # so the copy's requirements match the ones our go.sum was generated against.
  (
    cd "$work/provider"
    cp go.mod go.mod.orig
    cp go.sum go.sum.orig
    go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4
    (cd cmd/pulumi-resource-kubernetes && VERSION=$PULUMI_KUBERNETES_VERSION go run -mod=mod ./generate.go)
    mv go.mod.orig go.mod
    mv go.sum.orig go.sum
  )
  [ -s "$work/provider/cmd/pulumi-resource-kubernetes/schema-embed.json" ] ||
    { echo "generate.go wrote no schema-embed.json"; exit 1; }
  cp engine/kubernetes-provider/go.mod engine/kubernetes-provider/go.sum "$work/"
  cd "$work"
  go mod edit -replace="$PROVIDER_MOD=./provider"
  go build -trimpath -ldflags "$PROVIDER_LDFLAGS" -o "$BIN/pulumi-resource-kubernetes" \
    "$PROVIDER_MOD/cmd/pulumi-resource-kubernetes"
}

step_etcd() {
  cd engine/etcd
  go build -trimpath -ldflags "$ETCD_LDFLAGS" -o "$BIN/etcd" .
}

step_kube-apiserver() {
  cd engine/kubernetes
  go build -trimpath -ldflags "$K8S_LDFLAGS" -o "$BIN/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
}

step_kube-controller-manager() {
  cd engine/kubernetes
  go build -trimpath -ldflags "$K8S_LDFLAGS" -o "$BIN/kube-controller-manager" \
    k8s.io/kubernetes/cmd/kube-controller-manager
}

# Kueue's webhook configurations (config/components/webhook/manifests.yaml of the same pinned
# module) land beside the binary: the e2e tests point them at the controller's loopback port.
step_kueue() {
  local src
  cd engine/kueue
  go build -trimpath -ldflags "$KUEUE_LDFLAGS" -o "$BIN/kueue" sigs.k8s.io/kueue/cmd/kueue
  src=$(go mod download -json "sigs.k8s.io/kueue@$KUEUE_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -n "$src" ] && [ -f "$src/config/components/webhook/manifests.yaml" ] ||
    { echo "cannot download sigs.k8s.io/kueue@$KUEUE_VERSION"; exit 1; }
  mkdir -p "$ROOT/.tools/kueue"
  cp "$src/config/components/webhook/manifests.yaml" "$ROOT/.tools/kueue/webhook-manifests.yaml"
  chmod u+w "$ROOT/.tools/kueue/webhook-manifests.yaml"
}

if [ "${1:-}" = "__step" ]; then
  "step_$2"
  exit 0
fi

# ---- driver ----
command -v go >/dev/null 2>&1 || die "go not found on PATH (Go >= 1.26.6 is needed)"

# require_pin DIR MODULE VERSION [PIN-FILE]: the wrapper's go.mod must require exactly the pinned
# version.
require_pin() {
  grep -Eq "^[[:space:]]*(require[[:space:]]+)?$2 $3( |$)" "engine/$1/go.mod" ||
    die "engine/$1/go.mod does not require $2 $3 (${4:-engine/versions.env}); bump it with go get in engine/$1 (go get -tool for the tool modules)"
}
require_pin pulumi github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION"
require_pin kubernetes-provider "$PROVIDER_MOD" "$PULUMI_KUBERNETES_MODULE_VERSION"
require_pin etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
require_pin kubernetes k8s.io/kubernetes "$KUBERNETES_VERSION"
require_pin kueue sigs.k8s.io/kueue "$KUEUE_VERSION" components/versions.py
[ "$KUEUE_VERSION" != v ] || die "components/versions.py has no KUEUE_VERSION"
if grep -q "^[[:space:]]*replace\b" engine/kueue/go.mod; then
  die "engine/kueue/go.mod must not replace modules: Kueue builds with its own requirements"
fi
if grep -E "=> k8s\.io/[a-z0-9-]+ v" engine/kubernetes/go.mod | grep -vq " $KUBERNETES_STAGING_VERSION\$"; then
  die "engine/kubernetes/go.mod replaces a staging module with a version other than $KUBERNETES_STAGING_VERSION"
fi

# The provider must report the version the installed Python SDK asks the engine for.
for d in .venv/lib/python*/site-packages/pulumi_kubernetes-*.dist-info; do
  [ -d "$d" ] || continue
  sdk=${d##*/pulumi_kubernetes-}
  sdk=${sdk%.dist-info}
  [ "$sdk" = "$PULUMI_KUBERNETES_VERSION" ] ||
    echo "build_engine: warning: Python SDK pulumi-kubernetes is $sdk, provider is pinned to $PULUMI_KUBERNETES_VERSION" >&2
done

# key DIR FLAGS...: hash of the wrapper module's files, the pins and the build flags.
key() {
  local dir=engine/$1
  shift
  {
    cat "$dir/go.mod" "$dir/go.sum"
    find "$dir" -maxdepth 1 -name '*.go' -type f -exec cat {} +
    cat engine/versions.env
    go env GOVERSION
    printf '%s\n' "$CGO_ENABLED" "$GOFLAGS" "$@"
  } | sha256sum | cut -c1-16
}

# build NAME VERSION KEY
build() {
  local name=$1 version=$2 key=$3 stamp log start rc
  stamp=$STAMPS/$name-$version
  if [ -x "$BIN/$name" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
    echo "$name $version: already built"
    return 0
  fi
  rm -f "$STAMPS/$name"-v* "$STAMPS/$name"-[0-9]*
  log=$LOGS/$name.log
  rm -f "$log.time"
  start=$SECONDS
  set +e
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "peak RSS %M KiB, %U s user, %e s wall" -o "$log.time" \
      bash "$ROOT/scripts/build_engine.sh" __step "$name" >"$log" 2>&1
  else
    bash "$ROOT/scripts/build_engine.sh" __step "$name" >"$log" 2>&1
  fi
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    tail -n 25 "$log" >&2
    die "FAILED to build $name $version (exit $rc; full log: ${log#"$ROOT"/})"
  fi
  echo "$key" >"$stamp"
  local extra=""
  [ -f "$log.time" ] && extra=" ($(cat "$log.time"))"
  echo "$name $version: built in $((SECONDS - start)) s$extra"
}

# The Python language host is a script of ours, not a Go build: link its launcher into .tools/bin,
# where the CLI looks for the bundled `python` language plugin (relative link, so the launcher
# still finds the repository from its resolved path).
install_language_host() {
  local link=$BIN/pulumi-language-python target=../../engine/language_host/pulumi-language-python
  [ -x "engine/language_host/pulumi-language-python" ] || die "engine/language_host/pulumi-language-python is missing or not executable"
  if [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ]; then
    echo "pulumi-language-python (burst): already installed"
    return 0
  fi
  rm -f "$link"
  ln -s "$target" "$link"
  echo "pulumi-language-python (burst): installed"
}

mkdir -p "$BIN" "$STAMPS" "$LOGS"
ALL="etcd pulumi-resource-kubernetes pulumi kube-apiserver kube-controller-manager kueue pulumi-language-python"
for name in ${@:-$ALL}; do
  case $name in
    pulumi) build pulumi "$PULUMI_VERSION" "$(key pulumi "$PULUMI_LDFLAGS")" ;;
    pulumi-resource-kubernetes)
      build pulumi-resource-kubernetes "$PULUMI_KUBERNETES_VERSION" \
        "$(key kubernetes-provider "$PROVIDER_LDFLAGS" "$(sed -n '/^step_pulumi-resource-kubernetes/,/^}/p' "$0")")" ;;
    etcd) build etcd "$ETCD_VERSION" "$(key etcd "$ETCD_LDFLAGS")" ;;
    kube-apiserver) build kube-apiserver "$KUBERNETES_VERSION" "$(key kubernetes "$K8S_LDFLAGS")" ;;
    kube-controller-manager) build kube-controller-manager "$KUBERNETES_VERSION" "$(key kubernetes "$K8S_LDFLAGS")" ;;
    kueue)
      [ -f .tools/kueue/webhook-manifests.yaml ] || rm -f "$STAMPS"/kueue-*
      build kueue "$KUEUE_VERSION" "$(key kueue "$KUEUE_LDFLAGS" "$(sed -n '/^step_kueue/,/^}/p' "$0")")" ;;
    pulumi-language-python) install_language_host ;;
    *) die "unknown binary '$name' (one of: $ALL)" ;;
  esac
done
