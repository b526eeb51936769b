"""Load benchmark of the citizen-report intake: sustained rate, reply latency (open loop).

Starts the Open311 router under uvicorn (one process, SQLite WAL file in a temporary folder,
60 cameras with recent events), then sends ``--rate`` reports per second for ``--seconds``
from an asyncio client on the same machine. Latency is measured from each request's
*scheduled* send time (no coordinated omission): a server that falls behind shows it.

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
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import sessionmaker

from cloud.reports.correlate import CameraSite
from cloud.reports.evaluation import load_tsv
from cloud.reports.intake import ReportsConfig, ReportsService
from cloud.reports.router import build_router
from cloud.reports.tables import ReportsBase
from cloud.store.models import Base, EventRecord

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
RESULT = ROOT / "benchmarks" / "results" / "reports_load.json"
DATA = ROOT / "tests" / "reports" / "data"
ENV_DB = "REPORTS_BENCH_DB"
CENTRE = (21.0285, 105.8542)  # Hoàn Kiếm, Hà Nội
EVENT_TYPES = ("congestion", "stopped_vehicle", "illegal_stop", "wrong_way", "red_light")


def cameras() -> dict[str, CameraSite]:
    """60 cameras on a 0.5 km grid around the centre (deterministic)."""
    lat0, lon0 = CENTRE
    return {
        f"cam-{i:02d}": CameraSite(lat0 + (i // 8) * 0.0045, lon0 + (i % 8) * 0.0048, f"Nút {i}")
        for i in range(60)
    }


def _engine(url: str) -> Engine:
    """SQLite in WAL mode with ``synchronous=NORMAL`` (as the event store configures it)."""
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def create_app() -> FastAPI:
    """The app under test (uvicorn factory): the router over the benchmark database."""
    engine = _engine(os.environ[ENV_DB])
    service = ReportsService(sessionmaker(engine), cameras(), ReportsConfig(rate_limit=10**9))
    app = FastAPI()
    app.include_router(build_router(service), prefix="/open311/v2")
    return app


def seed(url: str) -> None:
    """Create the tables and 5 recent events per camera."""
    engine = _engine(url)
    Base.metadata.create_all(engine)
    ReportsBase.metadata.create_all(engine)
    now = datetime.now(UTC)
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
    with sessionmaker(engine)() as session:
        session.add_all(rows)
        session.commit()
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_ready(base: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{base}/services.json")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not start")


async def _drive(base: str, rate: float, seconds: float) -> dict[str, Any]:
    texts = [r.text for f in sorted(DATA.glob("reports_*.tsv")) for r in load_tsv(f)]
    rng = random.Random(7)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        start = time.monotonic() + 0.5

        async def one(i: int) -> None:
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
            lat = CENTRE[0] + rng.uniform(0, 0.03)
            lon = CENTRE[1] + rng.uniform(0, 0.035)
            data = {
                "service_code": "other",
                "description": rng.choice(texts),
                "lat": f"{lat:.6f}",
                "long": f"{lon:.6f}",
            }
            try:
                r = await client.post(f"{base}/requests.json", data=data)
                key = str(r.status_code)
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            latencies.append(time.monotonic() - scheduled)
            statuses[key] = statuses.get(key, 0) + 1

        total = int(rate * seconds)
        await asyncio.gather(*(one(i) for i in range(total)))
        elapsed = time.monotonic() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    return {
        "requests": total,
        "statuses": statuses,
        "elapsed_s": round(elapsed, 2),
        "achieved_rate_per_s": round(total / elapsed, 1),
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
    parser.add_argument("--out", type=Path, default=RESULT, help="JSON result file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reports-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'reports.sqlite3'}"
        seed(url)
        port = _free_port()
        env = {**os.environ, ENV_DB: url}
        cmd = [sys.executable, "-m", "uvicorn", "benchmarks.reports.load:create_app"]
        cmd += ["--factory", "--port", str(port), "--log-level", "warning", "--no-access-log"]
        server = subprocess.Popen(cmd, env=env, cwd=ROOT)
        try:
            base = f"http://127.0.0.1:{port}/open311/v2"
            asyncio.run(_wait_ready(base))
            load_before = os.getloadavg()
            result = asyncio.run(_drive(base, args.rate, args.seconds))
            load_after = os.getloadavg()
        finally:
            server.terminate()
            server.wait(timeout=10)
    result |= {
        "target_rate_per_s": args.rate,
        "duration_s": args.seconds,
        "server": "uvicorn, 1 process, SQLite WAL file; client on the same machine",
        "cpu_count": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "note": "machine shared with other jobs during the run; see loadavg",
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
