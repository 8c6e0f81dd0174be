#!/usr/bin/env bash
# Renders the kubectl install artifacts from the chart and crds/ (`make manifests`):
#   deploy/crds.yaml     every CRD the operator needs (ContactSync, its egress policy, Kopf peering)
#   deploy/install.yaml  the Namespace, the CRDs, then the operator as the chart's defaults
#                        make it, connecting to Temporal with the TLS Secret
#                        contactsync-temporal-tls (tls.crt, tls.key, ca.crt) in contactsync-system
#   deploy/argocd/argocd-cm-patch.yaml  Argo CD's health check of a ContactSync, from
#                        deploy/argocd/contactsync-health.lua
# A test renders them again and fails when the committed files differ.
# Usage: deploy/render.sh [OUTPUT_DIR]   (HELM: the helm binary; default: the one setup built)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/deploy}"
helm="${HELM:-$(ls -d "${CONTACTSYNC_CACHE:-$HOME/.cache/contactsync}"/bin/helm-v* 2>/dev/null | tail -1)}"
[[ -x "$helm" ]] || { echo "render: no helm (run tests/env/setup.sh, or set HELM)" >&2; exit 1; }
namespace=contactsync-system

mkdir -p "$out/argocd"

crds() {
  cat "$root/crds/contactsync.yaml"
  echo "---"
  cat "$root/crds/contactsyncegresspolicy.yaml"
  echo "---"
  cat "$root/crds/kopf-peering.yaml"
}

{
  echo "# Rendered by deploy/render.sh from crds/; do not edit."
  crds
} >"$out/crds.yaml"

{
  echo "# Rendered by deploy/render.sh from the chart's defaults; do not edit."
  echo "# kubectl apply -f install.yaml: the Namespace, the CRDs, then the operator. It expects"
  echo "# the Secret contactsync-temporal-tls (tls.crt, tls.key, ca.crt) in $namespace."
  cat <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $namespace
  labels:
    app.kubernetes.io/part-of: contactsync
    pod-security.kubernetes.io/enforce: restricted
---
YAML
  crds
  "$helm" template contactsync "$root/helm/contactsync" \
    --namespace "$namespace" \
    --set crds.install=false \
    --set temporal.tls.secretName=contactsync-temporal-tls
} >"$out/install.yaml"

{
  echo "# Rendered by deploy/render.sh from contactsync-health.lua; do not edit. Merge it into"
  echo "# Argo CD's argocd-cm ConfigMap (kubectl patch, or your Argo CD Helm values)."
  echo "apiVersion: v1"
  echo "kind: ConfigMap"
  echo "metadata:"
  echo "  name: argocd-cm"
  echo "  namespace: argocd"
  echo "data:"
  echo "  resource.customizations.health.contactsync.dev_ContactSync: |"
  sed 's/^/    /; s/^    $//' "$root/deploy/argocd/contactsync-health.lua"
} >"$out/argocd/argocd-cm-patch.yaml"
