#!/usr/bin/env bash
# Builds (or restores from the cache) everything a real `pulumi up` against a real Kubernetes API server
# needs on a machine that reaches only package registries:
#   pulumi CLI              github.com/pulumi/pulumi/pkg/v3 (Go module proxy), version set with -ldflags
#   pulumi-resource-kubernetes  github.com/pulumi/pulumi-kubernetes/provider/v4, installed as plugin $K8S_PLUGIN_VERSION
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl   k8s.io/kubernetes v$K8S_VERSION
#   kwok (fake nodes and pod status; no kubelet here)                sigs.k8s.io/kwok v$KWOK_VERSION
#   etcd                                                              Debian's etcd-server
# Binaries live outside the repo, one folder per pinned version:  $MSA_ENGINE_CACHE/<name>-<version>/
# so a warm cache costs nothing and a version bump builds only what changed.
#
#   tests/engine/build-engine.sh            build what is missing, print the bin folders
#   tests/engine/build-engine.sh --env      print `export` lines (PATH etc.) for a shell or the tests
#
# Cold on 2 cores: about 20 minutes (CLI ~5, provider ~6, kube ~8, kwok ~1); warm: < 1 s.
set -euo pipefail

PULUMI_VERSION=3.276.0
K8S_PLUGIN_VERSION=4.34.2            # = pulumi-kubernetes in requirements.txt: the SDK asks the engine for it
K8S_PROVIDER_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199   # the provider/v4 version the proxy serves
K8S_VERSION=1.37.2
KWOK_VERSION=0.8.0

CACHE="${MSA_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/msa-engine}"
export GOPATH="$CACHE/gopath" GOFLAGS="${GOFLAGS:--p=2}" GOTOOLCHAIN=local
export GOCACHE="$CACHE/gobuild"
# Every build links with -s -w (no symbol table, no DWARF), but `go build` still has the compiler write DWARF
# for every package (it skips that only for `go run`): -dwarf=false drops that work. Measured on 2 cores, a
# cold kwok build: 197 -> 173 CPU-s (-12%).
NO_DWARF="-gcflags=all=-dwarf=false"
PULUMI_DIR="$CACHE/pulumi-v$PULUMI_VERSION"
PROVIDER_DIR="$CACHE/pulumi-kubernetes-v$K8S_PLUGIN_VERSION"
KUBE_DIR="$CACHE/kubernetes-v$K8S_VERSION"
KWOK_DIR="$CACHE/kwok-v$KWOK_VERSION"

if [ "${1:-}" = --env ]; then
  echo "export MSA_ENGINE_CACHE='$CACHE'"
  echo "export PATH='$PULUMI_DIR:$PROVIDER_DIR:$KUBE_DIR:$KWOK_DIR':\"\$PATH\""
  echo "export MSA_KWOK_STAGES='$KWOK_DIR/stages.yaml'"
  echo "export MSA_K8S_PLUGIN_VERSION='$K8S_PLUGIN_VERSION'"
  echo "export MSA_K8S_PROVIDER_BIN='$PROVIDER_DIR/pulumi-resource-kubernetes'"
  exit 0
fi

command -v go >/dev/null || { echo "build-engine: Go is needed (the machine image has it in /usr/local/go)" >&2; exit 1; }
if ! command -v etcd >/dev/null; then
  apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
fi
mkdir -p "$CACHE"
log() { printf '== engine: %s\n' "$*"; }

build_pulumi() {
  [ -x "$PULUMI_DIR/pulumi" ] && return
  log "pulumi CLI v$PULUMI_VERSION (go build, ~5 min cold)"
  # `go install …/pkg/v3/cmd/pulumi@v…` is refused: pkg/v3's go.mod has replace directives. A local module
  # takes over its one non-local replace (clipboard) and requires sdk/v3 at the same version.
  local src="$CACHE/src/pulumi-v$PULUMI_VERSION"
  mkdir -p "$src"; cd "$src"
  if [ ! -s go.sum ]; then
    printf 'module local/pulumicli\n\ngo 1.26.0\n\nreplace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e\n' > go.mod
    go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
  fi
  # Without -X the CLI reports an empty version and plugin resolution misbehaves.
  go build -trimpath "$NO_DWARF" -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    -o "$PULUMI_DIR.tmp/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  mv "$PULUMI_DIR.tmp" "$PULUMI_DIR"
}

build_provider() {
  [ -x "$PROVIDER_DIR/pulumi-resource-kubernetes" ] && return
  log "pulumi-kubernetes provider as plugin v$K8S_PLUGIN_VERSION (go build, ~6 min cold)"
  # Its go.mod replaces sdk/v4 => ../sdk (go install refuses) and main.go embeds schema-embed.json, a file
  # generated at release time that the module zip lacks: build a copy of main.go next to copies of the
  # schema under the embedded names.
  local m=github.com/pulumi/pulumi-kubernetes/provider/v4 src="$CACHE/src/pulumi-kubernetes-v$K8S_PLUGIN_VERSION"
  mkdir -p "$src/main"; cd "$src"
  [ -s go.sum ] || { printf 'module local/k8sprovider\n\ngo 1.26.0\n' > go.mod; go get "$m/cmd/pulumi-resource-kubernetes@$K8S_PROVIDER_MODULE_VERSION"; }
  local cmd; cmd=$(go list -m -f '{{.Dir}}' "$m")/cmd/pulumi-resource-kubernetes
  install -m 0644 "$cmd/main.go" main/main.go
  install -m 0644 "$cmd/schema.json" main/schema-embed.json
  install -m 0644 "$cmd/terraform-mapping.json" main/terraform-mapping-embed.json
  go build -trimpath "$NO_DWARF" -ldflags "-s -w -X $m/pkg/version.Version=$K8S_PLUGIN_VERSION" -o "$PROVIDER_DIR.tmp/pulumi-resource-kubernetes" ./main
  mv "$PROVIDER_DIR.tmp" "$PROVIDER_DIR"
}

build_kube() {
  local missing=0 c
  for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do [ -x "$KUBE_DIR/$c" ] || missing=1; done
  [ "$missing" = 0 ] && return
  log "kube-apiserver, controller-manager, scheduler, kubectl v$K8S_VERSION (go build, ~8 min cold)"
  # k8s.io/kubernetes requires its staging modules at v0.0.0 with ./staging replaces that only work inside
  # its own repository: pin each one to its released v0.<minor>.<patch> instead.
  local src="$CACHE/src/kubernetes-v$K8S_VERSION"
  mkdir -p "$src" "$KUBE_DIR.tmp"; cd "$src"
  if [ ! -s go.sum ]; then
    printf 'module local/kube\n\ngo 1.26.0\n' > go.mod
    local gomod; gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
    grep -oE '^\s*k8s.io/[a-z0-9-]+ => ./staging' "$gomod" | awk '{print $1}' | sort -u | while read -r mod; do
      echo "replace $mod => $mod v0.${K8S_VERSION#1.}" >> go.mod
    done
    go get "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION"
  fi
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${K8S_VERSION#1.}"
  ld="${ld%.*}"   # gitMinor is the minor number alone
  for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [ -x "$KUBE_DIR.tmp/$c" ] && continue
    # Each command imports modules the others do not (kcm: the CSI spec): their go.sum entries first.
    go get "k8s.io/kubernetes/cmd/$c@v$K8S_VERSION"
    go build -trimpath "$NO_DWARF" -ldflags "$ld" -o "$KUBE_DIR.tmp/$c" "k8s.io/kubernetes/cmd/$c"
  done
  mv "$KUBE_DIR.tmp" "$KUBE_DIR"
}

build_kwok() {
  [ -x "$KWOK_DIR/kwok" ] && [ -s "$KWOK_DIR/stages.yaml" ] && return
  log "kwok v$KWOK_VERSION (go install, ~1 min with the kube build cache)"
  mkdir -p "$KWOK_DIR.tmp"
  GOBIN="$KWOK_DIR.tmp" go install -trimpath "$NO_DWARF" -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
  # kwok plays the kubelet through stages; without them it exits "no stages found". Take the ones the
  # module ships: node ready + heartbeat, pods created/ready/completed/deleted.
  local km; km=$(cd "$CACHE" && go mod download -json "sigs.k8s.io/kwok@v$KWOK_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  : > "$KWOK_DIR.tmp/stages.yaml"
  local f
  for f in node/fast/node-initialize node/heartbeat/node-heartbeat pod/general/pod-create \
           pod/general/pod-init-container-running pod/general/pod-init-container-completed \
           pod/general/pod-ready pod/general/pod-complete pod/general/pod-delete; do
    { echo '---'; cat "$km/kustomize/stage/$f.yaml"; } >> "$KWOK_DIR.tmp/stages.yaml"
  done
  mv "$KWOK_DIR.tmp" "$KWOK_DIR"
}

build_pulumi
build_provider
build_kube
build_kwok
"$PULUMI_DIR/pulumi" version
ls -d "$PULUMI_DIR" "$PROVIDER_DIR" "$KUBE_DIR" "$KWOK_DIR"
