#!/usr/bin/env bash
# System services the test suite uses: Mosquitto (fault tests start their own on a free
# port), Redis (the shared rate-limit tests start their own on a free port), PostgreSQL
# (storage tests) and Chromium (browser tests). Installs what is absent (Debian, as root)
# and starts PostgreSQL when it is installed but stopped.
# Usage: scripts/system-deps.sh [mosquitto] [redis] [chromium] [postgresql]   (default: all)
set -uo pipefail
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(mosquitto redis chromium postgresql)
wants() { [[ " ${want[*]} " == *" $1 "* ]]; }
need=()
if wants mosquitto && ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  need+=(mosquitto)
fi
if wants redis && ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
  need+=(redis-server)
fi
if wants chromium && ! command -v chromium >/dev/null 2>&1; then
  need+=(chromium)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: installing ${need[*]}" >&2
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 ||
      echo "system-deps: could not install ${need[*]}; the tests that need them will skip" >&2
  else
    echo "system-deps: missing ${need[*]} (not root: tests that need them will skip)" >&2
  fi
fi
if wants postgresql && command -v pg_ctlcluster >/dev/null 2>&1 &&
   ! pg_isready -q -h 127.0.0.1 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start 2>/dev/null || true
fi
exit 0
