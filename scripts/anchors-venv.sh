#!/usr/bin/env bash
# Creates (once) the throwaway venv with the tools mlp's monitoring is measured against:
# scipy 1.x, scikit-learn and Evidently 0.7.x, plus pyarrow for Parquet. It lives outside the
# clone (~/.cache/mlp/anchors-venv, or $MLP_ANCHORS_VENV) and nothing in the build or the
# tests needs it: the reference vectors it produces are committed. Prints the venv's python.
set -euo pipefail
VENV="${MLP_ANCHORS_VENV:-$HOME/.cache/mlp/anchors-venv}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import evidently, scipy, sklearn, pyarrow' 2>/dev/null; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    'evidently==0.7.23' 'scipy>=1.11,<2' 'scikit-learn>=1.4,<2' 'pyarrow>=15' 'numpy<3' 'pandas<3' >&2
fi
echo "$VENV/bin/python"
