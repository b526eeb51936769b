#!/usr/bin/env bash
# The whole test suite: set-up, lint, format check, type check, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev,cloud,models,openvino,torch
scripts/system-deps.sh
export TRAFFIC_MONITOR_SHARED="${TRAFFIC_MONITOR_SHARED:-$(cd .. && pwd)/shared}"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy .
.venv/bin/python -m pytest "$@"
