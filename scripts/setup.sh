#!/usr/bin/env bash
# Creates .venv with the project installed (editable) and the given extras.
# Usage: scripts/setup.sh [EXTRAS]   e.g. scripts/setup.sh dev,cloud,models
# Idempotent: re-installs only when pyproject.toml or the extras change.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-cloud}"

python_bin=""
for candidate in python3.11 python3.12 python3.13 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    python_bin="$candidate"; break
  fi
done
if [ -z "$python_bin" ]; then
  echo "setup: Python >= 3.11 is required" >&2; exit 1
fi

if [ ! -x .venv/bin/python ]; then
  "$python_bin" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi

stamp=".setup-stamp-$(echo "$extras" | tr ',' '-')"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing traffic-monitor[$extras] into .venv (first run takes a few minutes)" >&2
  .venv/bin/python -m pip install -q -e ".[$extras]"
  echo "$want" > "$stamp"
fi
# Compile the per-frame kernels (numba, edge/compiled.py) into their on-disk cache now, not on
# the first camera's first frames: ~20 s the first time and after their code changes, ~1 s after.
.venv/bin/python -c "from edge.pipeline.analytics import warm_up_kernels; warm_up_kernels()"
