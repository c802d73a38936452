#!/usr/bin/env bash
# Builds the e2e toolchain (etcd, kube-apiserver) from published Go modules into a cache
# outside the repository, and downloads the operators' modules the CRDs are read from (piece
# `crds`, into the Go module cache). One folder per binary and version:
#   ${HYBRIDML_E2E_CACHE:-$HOME/.cache/hybrid-ml-e2e}/<piece>-<version>/<piece>
# A piece already in the cache is reused. Each build's wall time and peak RAM
# (/usr/bin/time -v) go to <piece>-<version>/build.log. Usage: build.sh [piece ...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache="${HYBRIDML_E2E_CACHE:-$HOME/.cache/hybrid-ml-e2e}"
mkdir -p "$cache"
# Nothing is fetched but modules from the proxy; the wrappers' go.sum pin every byte.
export GOFLAGS="-mod=readonly -trimpath"
export CGO_ENABLED=0

k8s_ldflags() {
    local v="$KUBERNETES_VERSION" major="${KUBERNETES_VERSION%%.*}" rest minor flags=""
    rest="${KUBERNETES_VERSION#*.}"
    minor="${rest%%.*}"
    # Without these the server reports v0.0.0 and clients (the Pulumi provider) refuse it.
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X $pkg.gitVersion=v$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
        flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    echo "-s -w$flags"
}

build() {  # build PIECE VERSION LDFLAGS [PACKAGE]
    local piece="$1" version="$2" ldflags="$3" package="${4:-.}"
    local dir="$cache/$piece-$version"
    if [ -x "$dir/$piece" ]; then
        echo "$piece $version: cached in $dir"
        return
    fi
    mkdir -p "$dir"
    echo "$piece $version: building into $dir (log: $dir/build.log)"
    (cd "${here_build:-$here/$piece}" && nice -n "${HYBRIDML_E2E_NICE:-10}" /usr/bin/time -v \
        go build -ldflags "$ldflags" -o "$dir/$piece.tmp" "$package" ) >"$dir/build.log" 2>&1 || {
        tail -40 "$dir/build.log" >&2
        echo "$piece $version: build failed (full log: $dir/build.log)" >&2
        return 1
    }
    mv "$dir/$piece.tmp" "$dir/$piece"
    grep -E "Elapsed \(wall clock\)|Maximum resident" "$dir/build.log" | sed "s/^\s*/  $piece: /"
}

crds() {  # every <X>_MODULE of versions.env at v<X>_VERSION, into the Go module cache
    local var key module
    for var in $(compgen -v | grep '_MODULE$'); do
        key="${var%_MODULE}"
        module="${!var}"
        local version_var="${key}_VERSION"
        (cd "$cache" && go mod download "$module@v${!version_var}") || {
            echo "crds: go mod download $module@v${!version_var} failed" >&2
            return 1
        }
    done
    echo "crds: operator modules in $(go env GOMODCACHE)"
}

kubernetes_provider() {  # the wrapper in a temp copy, beside the schema files its main embeds
    local version="$PULUMI_KUBERNETES_PROVIDER_VERSION" tmp="" src=""
    [ -x "$cache/pulumi-resource-kubernetes-$version/pulumi-resource-kubernetes" ] || {
        tmp="$(mktemp -d)"
        trap 'rm -rf "$tmp"' RETURN
        cp "$here/pulumi-resource-kubernetes/"{go.mod,go.sum,main.go} "$tmp/"
        src="$(cd "$tmp" && go mod download -json github.com/pulumi/pulumi-kubernetes/provider/v4 \
            | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')/cmd/pulumi-resource-kubernetes"
        # What upstream's generate.go does at release time: the schema with its version set.
        python3 - "$src" "$tmp" "$version" <<'PY'
import json, sys
src, out, version = sys.argv[1:]
schema = json.load(open(f"{src}/schema.json"))
schema["version"] = version
json.dump(schema, open(f"{out}/schema-embed.json", "w"))
open(f"{out}/terraform-mapping-embed.json", "w").write(open(f"{src}/terraform-mapping.json").read())
PY
    }
    here_build="$tmp" build pulumi-resource-kubernetes "$version" \
        "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$version"
}

pieces=("$@")
[ ${#pieces[@]} -gt 0 ] || pieces=(etcd kube-apiserver crds)
for piece in "${pieces[@]}"; do
    case "$piece" in
        etcd) build etcd "$ETCD_VERSION" "-s -w" ;;
        kube-apiserver) build kube-apiserver "$KUBERNETES_VERSION" "$(k8s_ldflags)" ;;
        crds) crds ;;
        # Not built by default: without a served Python language host the engine cannot run
        # the program (docs/testing.md); kept to measure and to build on.
        pulumi) build pulumi "$PULUMI_VERSION" \
            "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
            github.com/pulumi/pulumi/pkg/v3/cmd/pulumi ;;
        pulumi-resource-kubernetes) kubernetes_provider ;;
        *) echo "unknown piece: $piece" >&2; exit 2 ;;
    esac
done
