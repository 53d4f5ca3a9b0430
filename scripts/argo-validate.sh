#!/usr/bin/env bash
# Validates Argo Workflows YAML: Workflow, CronWorkflow and WorkflowTemplate documents against
# Argo's API models (`hera`, PyPI, pinned: generated from Argo's published OpenAPI schema),
# strictly, with the references Argo resolves at submission (scripts/argo_validate.py); any
# other document (a ConfigMap) against the Kubernetes schema (scripts/k8s-validate.sh). The
# validator lives in its own venv under the cache, made on first use.
# Usage: scripts/argo-validate.sh FILE   (exit 0: valid; 1: not valid or no validator)
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
version=7.1.0
venv="${MLP_ARGO_VALIDATE_VENV:-$HOME/.cache/mlp/hera-$version}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import hera, yaml" 2>/dev/null; then
  python="$MLP_VENV/bin/python"
  [ -x "$python" ] || python=python3
  tmp="$venv.tmp.$$"
  rm -rf "$tmp"
  "$python" -m venv "$tmp" >&2
  "$tmp/bin/pip" install --quiet --disable-pip-version-check "hera==$version" "pyyaml==6.0.4" >&2
  # Made whole, then moved in place: two tests never share a half-made venv.
  mv -T "$tmp" "$venv" 2>/dev/null || rm -rf "$tmp"
fi
others="$("$venv/bin/python" "$here/argo_validate.py" "$1")"
indexes=$(sed -n 's/^OTHER //p' <<<"$others")
if [ -n "$indexes" ]; then
  rest="$(mktemp)"
  trap 'rm -f "$rest"' EXIT
  "$venv/bin/python" - "$1" "$rest" $indexes <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]
keep = [docs[int(i)] for i in sys.argv[3:]]
with open(sys.argv[2], "w") as f:
    yaml.safe_dump_all(keep, f)
PY
  bash "$here/k8s-validate.sh" "$rest" >/dev/null
fi
echo "valid: $1"
