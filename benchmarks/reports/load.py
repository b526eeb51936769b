"""Load benchmark of the citizen-report intake: sustained rate, reply latency (open loop).

Serves the aggregator (``traffic-monitor cloud serve [--workers N]``: the Open311 intake is
part of it) over a SQLite WAL file made by the migrations, with 60 registered cameras and recent
events, then sends ``--rate`` reports per second for ``--seconds`` from a small asyncio
HTTP/1.1 client on the same machine (pre-encoded form bodies over keep-alive connections, so
the load generator takes little of the CPU it shares with the server). Every report gets its
automatic reply in the response; latency is measured from each request's *scheduled* send
time (no coordinated omission): a server that falls behind shows it.

Also measures the in-process cost of one report (``ReportsService.submit``: classification,
camera correlation, duplicate check, reply, storage) without HTTP.

Run (writes ``benchmarks/results/reports_load.json``)::

    .venv/bin/python -m benchmarks.reports.load --rate 200 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import sessionmaker

from cloud.db import EventRecord
from cloud.reports.correlate import CameraSite
from cloud.reports.training.corpus import CORPUS, read_rows
from cloud.services.reports import ReportsConfig, ReportsService, Submission
from cloud.store import EventStore
from cloud.store.cameras import CameraPosition, upsert_cameras
from traffic_monitor.net import free_port

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
RESULT = ROOT / "benchmarks" / "results" / "reports_load.json"
CENTRE = (21.0285, 105.8542)  # Hoàn Kiếm, Hà Nội
EVENT_TYPES = ("congestion", "stopped_vehicle", "illegal_stop", "wrong_way", "red_light")
PATH = "/open311/v2/requests.json"
KEEPALIVE_S = 4.0
"""Idle connections older than this are not reused (uvicorn closes them after 5 s)."""
UNLIMITED = ReportsConfig(rate_limit=10**9)
"""One client address sends every report: the per-client limit is lifted for the benchmark."""
UNLIMITED_SETTINGS = json.dumps({"reports": {"rate_limit": UNLIMITED.rate_limit}})


def cameras() -> dict[str, CameraSite]:
    """60 cameras on a 0.5 km grid around the centre (deterministic)."""
    lat0, lon0 = CENTRE
    return {
        f"cam-{i:02d}": CameraSite(lat0 + (i // 8) * 0.0045, lon0 + (i % 8) * 0.0048, f"Nút {i}")
        for i in range(60)
    }


def seed(url: str, schema: str | None = None) -> None:
    """Create the schema (migrations), register the cameras, add 5 recent events per camera."""
    from cloud.migrations import upgrade

    store = EventStore(url, schema)
    upgrade(store)
    now = datetime.now(UTC)
    positions = [
        CameraPosition(camera_id=cam, site_id="hanoi", name=site.name, lat=site.lat, lon=site.lon)
        for cam, site in cameras().items()
    ]
    rows = [
        EventRecord(
            event_id=uuid.uuid4(),
            schema_version=1,
            site_id="hanoi",
            node_id="n1",
            camera_id=cam,
            type=EVENT_TYPES[k],
            phase="start",
            severity="medium",
            time=now - timedelta(minutes=2 + k),
            received_at=now,
            rule="bench",
            payload={},
        )
        for cam in cameras()
        for k in range(len(EVENT_TYPES))
    ]
    with store.session() as session:
        upsert_cameras(session, positions)
        session.add_all(rows)
        session.commit()
    store.dispose()


def _texts() -> list[str]:
    """Report texts as citizens write them: the training corpus (every style and category)."""
    return [r.text for r in read_rows(CORPUS) if len(r.text.strip()) >= 3]  # intake minimum


def _forms(count: int, seed_: int = 7) -> list[dict[str, str]]:
    """Deterministic report forms: test-set texts at random places around the centre."""
    texts = _texts()
    rng = random.Random(seed_)
    return [
        {
            "service_code": "other",
            "description": rng.choice(texts),
            "lat": f"{CENTRE[0] + rng.uniform(0, 0.03):.6f}",
            "long": f"{CENTRE[1] + rng.uniform(0, 0.035):.6f}",
        }
        for _ in range(count)
    ]


def service_cost(url: str, schema: str | None = None, reports: int = 1000) -> dict[str, float]:
    """Milliseconds per report of ``ReportsService.submit`` alone (no HTTP), in this process."""
    store = EventStore(url, schema)
    service = ReportsService(sessionmaker(store.engine), cameras(), UNLIMITED)
    subs = [
        Submission(
            client="bench",
            service_code=f["service_code"],
            description=f["description"],
            lat=f["lat"],
            long=f["long"],
        )
        for f in _forms(reports, seed_=11)
    ]
    for sub in subs[:50]:  # warm-up: statement cache, regexes
        service.submit(sub)
    start = time.perf_counter()
    for sub in subs[50:]:
        service.submit(sub)
    elapsed = time.perf_counter() - start
    store.dispose()
    return {"ms_per_report": round(1000 * elapsed / (len(subs) - 50), 3)}


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its direct children (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _request(port: int, form: dict[str, str]) -> bytes:
    body = urlencode(form).encode()
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """Send one request on a keep-alive connection; return the status code."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _wait_ready(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            get = f"GET /open311/v2/services.json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
            if await _exchange(reader, writer, get.encode()) == 200:
                writer.close()
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("server did not start")


async def _drive(port: int, rate: float, seconds: float) -> dict[str, Any]:
    total = int(rate * seconds)
    requests = [_request(port, form) for form in _forms(total)]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
    start = time.monotonic() + 0.5

    async def connection() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while idle:
            reader, writer, last_used = idle.pop()
            if time.monotonic() - last_used < KEEPALIVE_S:
                return reader, writer
            writer.close()  # the server may be closing it: never reuse a stale connection
        return await asyncio.open_connection("127.0.0.1", port)

    async def one(i: int) -> None:
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
        reader, writer = await connection()
        try:
            key = str(await _exchange(reader, writer, requests[i]))
            idle.append((reader, writer, time.monotonic()))
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            key = type(exc).__name__
            writer.close()
        latencies.append(time.monotonic() - scheduled)
        statuses[key] = statuses.get(key, 0) + 1

    await asyncio.gather(*(one(i) for i in range(total)))
    elapsed = time.monotonic() - start
    connections = len(idle)
    for _, writer, _ in idle:
        writer.close()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    return {
        "requests": total,
        "statuses": statuses,
        "elapsed_s": round(elapsed, 2),
        "achieved_rate_per_s": round(total / elapsed, 1),
        "connections_used": connections,
        "latency_s": {
            "p50": round(pct(0.50), 4),
            "p95": round(pct(0.95), 4),
            "p99": round(pct(0.99), 4),
            "max": round(latencies[-1], 4),
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=200.0, help="reports per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration")
    parser.add_argument("--workers", type=int, default=1, help="cloud serve --workers")
    parser.add_argument(
        "--rate-limit-storage",
        default="memory://",
        help="TM_API_RATE_LIMIT_STORAGE of the server (redis://127.0.0.1:6379/0 for --workers 2)",
    )
    parser.add_argument("--out", type=Path, default=RESULT, help="JSON result file")
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test); a fresh "
        "schema is made and dropped. Default: a SQLite WAL file in a temporary folder.",
    )
    args = parser.parse_args(argv)
    schema = f"reports_bench_{uuid.uuid4().hex[:10]}" if args.database_url else None
    with tempfile.TemporaryDirectory(prefix="reports-bench-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'reports.sqlite3'}"
        seed(url, schema)
        in_process = service_cost(url, schema)
        port = free_port()
        settings = Path(tmp) / "api.json"
        settings.write_text(UNLIMITED_SETTINGS, encoding="utf-8")
        env = {**os.environ, "TM_API_RATE_LIMIT_STORAGE": args.rate_limit_storage}
        cmd = [sys.executable, "-m", "traffic_monitor", "-q", "cloud", "serve", "--port", str(port)]
        cmd += ["--settings", str(settings), "--database-url", url, "--workers", str(args.workers)]
        cmd += ["--database-schema", schema] if schema else []
        server = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        try:
            asyncio.run(_wait_ready(port))
            load_before = os.getloadavg()
            cpu_before = _cpu_s(server.pid)
            result = asyncio.run(_drive(port, args.rate, args.seconds))
            server_cpu = _cpu_s(server.pid) - cpu_before
            load_after = os.getloadavg()
        finally:
            server.terminate()
            server.wait(timeout=20)
            if schema is not None:
                dropped = EventStore(url, schema)
                dropped.drop()
                dropped.dispose()
    result |= {
        "target_rate_per_s": args.rate,
        "duration_s": args.seconds,
        "p99_target_met": result["latency_s"]["p99"] <= 1.0
        and result["achieved_rate_per_s"] >= 0.98 * args.rate
        and set(result["statuses"]) == {"201"},
        "in_process": in_process,
        "server_cpu_ms_per_report": round(1000 * server_cpu / result["requests"], 3),
        "server": (
            f"traffic-monitor cloud serve --workers {args.workers} (rate limits in "
            f"{args.rate_limit_storage.split(':')[0]}), "
            f"{'PostgreSQL' if schema else 'SQLite WAL file'}; raw asyncio HTTP/1.1 client on "
            "the same machine"
        ),
        "classifier": "learned (cloud/reports/model.npz), emergency safety net",
        "cpu_count": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
