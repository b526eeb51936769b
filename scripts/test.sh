#!/usr/bin/env bash
# The whole test suite: set-up, lint, format check, type check, import layers, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev,cloud,models,openvino,torch
scripts/system-deps.sh
export TRAFFIC_MONITOR_SHARED="${TRAFFIC_MONITOR_SHARED:-$(cd .. && pwd)/shared}"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy .
.venv/bin/lint-imports  # the package layers ([tool.importlinter] in pyproject.toml)
.venv/bin/python -m pytest "$@"
