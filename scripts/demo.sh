#!/usr/bin/env bash
# The main job on embedded defaults (sample video from ../shared, local broker, SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh cloud
scripts/system-deps.sh mosquitto
exec .venv/bin/traffic-monitor demo "$@"
