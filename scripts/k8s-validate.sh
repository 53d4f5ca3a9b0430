#!/usr/bin/env bash
# Validates Kubernetes YAML against the official OpenAPI schemas of Kubernetes 1.30 and 1.37
# with `kubernetes-validate` (PyPI, pinned), strict (unknown fields are errors), offline (the
# schemas ship in the package). A kind or apiVersion it has no schema for only warns there;
# here any WARN fails too, so a misspelled kind cannot pass. The validator lives in its own
# venv under the cache, made on first use.
# Usage: scripts/k8s-validate.sh FILE...   (exit 0: valid; 1: not valid or no validator)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
version=1.37.0
venv="${MLP_K8S_VALIDATE_VENV:-$HOME/.cache/mlp/kubernetes-validate-$version}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import kubernetes_validate" 2>/dev/null; then
  python="$MLP_VENV/bin/python"
  [ -x "$python" ] || python=python3
  tmp="$venv.tmp.$$"
  rm -rf "$tmp"
  "$python" -m venv "$tmp" >&2
  "$tmp/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$version" >&2
  # Made whole, then moved in place: two tests never share a half-made venv.
  mv -T "$tmp" "$venv" 2>/dev/null || rm -rf "$tmp"
fi
# Run as a module: the venv was made under another name, which its scripts' shebangs keep.
out="$("$venv/bin/python" -m kubernetes_validate -k 1.30 -k 1.37 --strict "$@" 2>&1)" && rc=0 || rc=$?
printf '%s\n' "$out"
if [ "$rc" -eq 0 ] && grep -q '^WARN' <<<"$out"; then
  echo "k8s-validate: a warning (a kind or apiVersion without a schema) counts as invalid" >&2
  exit 1
fi
exit "$rc"
