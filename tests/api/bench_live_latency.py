"""Live stream benchmark: store → SSE latency, and other routes while N streams are open.

Run: ``PYTHONPATH=. .venv/bin/python tests/api/bench_live_latency.py [--streams 50]``; writes
``benchmarks/results/api_live_latency.json``. uvicorn on loopback, SQLite, poll 0.3 s.
Shared 2-core machine: see ``loadavg``; compare only runs of one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import uvicorn

from cloud.api import ApiSettings, create_app
from cloud.store import EventStore
from tests.api.conftest import Backend, build_backend
from tests.databases import migrated_sqlite
from tests.events import at, make_event
from traffic_monitor.net import free_port

ROUTES = ("/api/events", "/api/alerts", "/api/cameras", "/api/auth/me")


def _serve(store: EventStore) -> tuple[uvicorn.Server, int]:
    port = free_port()
    config = uvicorn.Config(
        create_app(ApiSettings(), store), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, port


async def _route_latency(client: httpx.AsyncClient, rounds: int) -> dict[str, object]:
    times, failures = [], 0
    for _ in range(rounds):
        for path in ROUTES:
            t0 = time.perf_counter()
            try:
                ok = (await client.get(path)).status_code == 200
            except httpx.HTTPError:
                ok = False
            times.append(time.perf_counter() - t0)
            failures += not ok
    times.sort()
    return {
        "requests": len(times),
        "failures": failures,
        "median_s": round(statistics.median(times), 4),
        "p95_s": round(times[int(0.95 * (len(times) - 1))], 4),
        "max_s": round(times[-1], 4),
    }


async def _delivery(
    backend: Backend, lines: list[AsyncIterator[str]], rounds: int
) -> dict[str, object]:
    """Seconds from the commit of an alertable event to its arrival on every open stream."""

    async def next_data(it: AsyncIterator[str]) -> float:
        async for line in it:
            if line.startswith("data: "):
                return time.perf_counter()
        raise RuntimeError("stream ended")

    worst = []
    for i in range(rounds):
        await asyncio.sleep(0.37)
        t0 = time.perf_counter()
        backend.add_events(make_event(time=at(10 * i), camera_id=f"cam-{i}"))
        arrivals = await asyncio.gather(*(next_data(it) for it in lines))
        worst.append(max(arrivals) - t0)
    worst.sort()
    return {
        "events": rounds,
        "median_s": round(statistics.median(worst), 3),
        "max_s": round(worst[-1], 3),
    }


async def _run(backend: Backend, port: int, streams: int, rounds: int) -> dict[str, object]:
    headers = backend.login("viewer")
    base = f"http://127.0.0.1:{port}"
    timeout = httpx.Timeout(60.0)
    limits = httpx.Limits(max_connections=streams + 5)
    async with (
        httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout) as other,
        httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout, limits=limits) as live,
    ):
        idle = await _route_latency(other, rounds)
        opened = [
            await live.send(live.build_request("GET", "/api/live"), stream=True)
            for _ in range(streams)
        ]
        lines = [r.aiter_lines() for r in opened]
        busy = await _route_latency(other, rounds)
        delivery = await _delivery(backend, lines, 10)
        for r in opened:
            await r.aclose()
    return {"no_stream_routes": idle, f"{streams}_streams_routes": busy, "delivery": delivery}


def main() -> None:
    """Measure and write the JSON result."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10, help="rounds over the routes")
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/api_live_latency.json")
    )
    args = parser.parse_args()
    store = migrated_sqlite(Path(tempfile.mkdtemp()) / "lat.sqlite3")
    backend = build_backend(store)
    for i in range(200):
        backend.add_events(make_event(time=at(i % 50), camera_id=f"seed-{i % 7}"))
    server, port = _serve(store)
    measured = asyncio.run(_run(backend, port, args.streams, args.rounds))
    server.should_exit = True
    result = {
        "what": "GET latency of other routes with no stream and with N open /api/live streams; "
        "seconds from the commit of an alertable event to its SSE message on every stream",
        "routes": ROUTES,
        "streams": args.streams,
        "poll_s": 0.3,
        **measured,
        "loadavg": os.getloadavg(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
