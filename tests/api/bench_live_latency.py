"""Store write -> SSE delivery latency of /api/live (uvicorn, SQLite, poll 0.3 s).

Run: ``PYTHONPATH=. .venv/bin/python tests/api/bench_live_latency.py``; writes
``benchmarks/results/api_live_latency.json``. Shared 2-core machine: see ``loadavg``.
"""

import json
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from cloud.api import ApiSettings, create_app
from cloud.store import EventStore
from tests.api.conftest import build_backend, make_event

d = tempfile.mkdtemp()
store = EventStore(f"sqlite:///{d}/lat.sqlite3")
b = build_backend(store)
h = b.login("viewer")
app = create_app(ApiSettings(), store)
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
threading.Thread(target=srv.run, daemon=True).start()
while not srv.started:
    time.sleep(0.05)
lat = []
with (
    httpx.Client(timeout=30) as c,
    c.stream("GET", f"http://127.0.0.1:{port}/api/live", headers=h) as st,
):
    lines = st.iter_lines()
    for i in range(20):
        time.sleep(0.37)
        t0 = time.perf_counter()
        b.add_events(make_event(minutes=10 * i, camera=f"cam-{i}"))
        for line in lines:
            if line.startswith("data: "):
                lat.append(time.perf_counter() - t0)
                break
srv.should_exit = True
lat.sort()
result = {
    "what": "seconds from EventStore.write of an alertable event to its SSE message",
    "samples": len(lat),
    "median_s": round(lat[len(lat) // 2], 3),
    "max_s": round(lat[-1], 3),
    "poll_s": 0.3,
    "loadavg": os.getloadavg(),
}
out = Path("benchmarks/results/api_live_latency.json")
out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
print(json.dumps(result))
