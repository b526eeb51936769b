"""Fifty open live streams leave every other route answering (real uvicorn, real sockets),
and the server still stops while they are open.

Before, each open ``/api/live`` stream held a pooled database connection and polled the store
itself: at 16 streams ``GET /api/events`` took 27 s, at 50 requests failed with 500. The
timeouts here are hang guards, not thresholds: the latency is measured by
``tests/api/bench_live_latency.py``.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from cloud.api import ApiSettings, create_app
from cloud.api.cli import SHUTDOWN_GRACE_S
from tests.api.conftest import Backend, build_backend
from tests.databases import migrated_sqlite
from tests.events import T0, make_event
from traffic_monitor.net import free_port

STREAMS = 50
GUARD_S = 120.0
"""Hang guard per request: generous, a loaded CI machine must never trip it."""
QUERY = {
    "/api/open-data": "?start=2026-01-01T00:00Z&end=2026-01-02T00:00Z",
    "/api/stats": "?start=2026-01-01T00:00Z&end=2026-01-02T00:00Z",
}


class Server:
    """uvicorn serving an app in a thread, on a free loopback port."""

    def __init__(self, app: object) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,  # as `cloud serve` runs it
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            self.thread.join(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Backend, Server]]:
    store = migrated_sqlite(tmp_path / "live.sqlite3")
    backend = build_backend(store)
    with Server(create_app(ApiSettings(live_poll_s=0.05), store)) as server:
        yield backend, server
    backend.client.close()
    store.dispose()


def _get_paths(backend: Backend, headers: dict[str, str]) -> list[str]:
    """Every GET operation of the OpenAPI document except the stream, with its parameters."""
    spec = backend.client.get("/openapi.json").json()
    alert = backend.client.get("/api/alerts", headers=headers).json()[0]
    values = {
        "alert_id": str(alert["id"]),
        "event_id": alert["latest_event_id"],
        "kind": "snapshot",
        "camera_id": "cam-1",
        "ticket": "PA-000001",
        "request_id": "PA-000001",
        "name": "counts.json",
    }
    paths = []
    for template, item in spec["paths"].items():
        if "get" not in item or template == "/api/live":
            continue
        path = re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], template)
        paths.append(path + QUERY.get(template, ""))
    return paths


async def _open_streams(client: httpx.AsyncClient, count: int) -> list[httpx.Response]:
    async def open_one() -> httpx.Response:
        request = client.build_request("GET", "/api/live")
        response = await client.send(request, stream=True)
        assert response.status_code == 200
        return response

    return await asyncio.gather(*(open_one() for _ in range(count)))


async def _next_alert(lines: AsyncIterator[str]) -> str:
    async for line in lines:
        if line.startswith("data: "):
            return line
    raise AssertionError("stream ended")


async def _scenario(backend: Backend, server: Server) -> None:
    admin = backend.login("admin")
    backend.add_events(make_event(time=T0), snapshot=True)
    paths = _get_paths(backend, admin)
    assert len(paths) >= 20
    base = f"http://127.0.0.1:{server.port}"
    limits = httpx.Limits(max_connections=STREAMS + 10)
    timeout = httpx.Timeout(GUARD_S)
    async with (
        httpx.AsyncClient(base_url=base, headers=admin, limits=limits, timeout=timeout) as streams,
        httpx.AsyncClient(base_url=base, headers=admin, timeout=timeout) as other,
    ):
        opened = await _open_streams(streams, STREAMS)
        try:
            # every stream first replays the existing card
            lines = [r.aiter_lines() for r in opened]
            firsts = await asyncio.gather(*(_next_alert(it) for it in lines))
            assert all('"camera_id":"cam-1"' in line for line in firsts)
            for path in paths:
                res = await other.get(path)
                assert res.status_code in (200, 404), (path, res.status_code, res.text)
                assert res.status_code == 200 or "PA-" in path, path  # no report was filed
            # a new alert reaches all fifty streams
            backend.add_events(make_event(time=T0, camera_id="cam-new"))
            news = await asyncio.gather(*(_next_alert(it) for it in lines))
            assert all('"camera_id":"cam-new"' in line for line in news)
            # SIGTERM's path in uvicorn: the server stops although 50 streams are still open
            server.server.should_exit = True
            await asyncio.to_thread(server.thread.join, GUARD_S)
            assert not server.thread.is_alive()
        finally:
            await asyncio.gather(*(r.aclose() for r in opened))


def test_fifty_open_streams_leave_every_route_answering(served):
    backend, server = served
    asyncio.run(_scenario(backend, server))
