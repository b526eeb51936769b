"""Transport benchmark: N simulated edge nodes → Mosquitto → aggregator → SQLite / PostgreSQL.

Measures sustained stored events per second (durable outbox on each node, QoS 1, deduplicated
storage) and end-to-end latency (event created → committed in the store) at a fixed rate.

Run: ``python -m benchmarks.transport.bench [--db sqlite postgresql] [--nodes 4]``;
writes ``benchmarks/results/transport.json``. The machine is shared: the load average is
recorded with the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cloud.ingest import IngestConfig, Ingestor
from cloud.store import EventStore
from edge.transport import MqttConfig, MqttPublisher
from traffic_monitor.contract import Event, EventType, Severity
from traffic_monitor.shared_data import REPO_ROOT

logger = logging.getLogger(__name__)

PG_URL = os.environ.get(
    "TRAFFIC_MONITOR_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
RESULTS = REPO_ROOT / "benchmarks" / "results" / "transport.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_broker(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    conf = workdir / "mosquitto.conf"
    run_as = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"{run_as}persistence false\nmax_queued_messages 0\n"
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
    )
    proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


def _node(port: int, index: int, count: int, rate: float, outbox: str) -> None:
    """One simulated edge node (a separate process): publish ``count`` events."""
    config = MqttConfig(
        port=port,
        site_id="bench",
        node_id=f"node-{index:02d}",
        outbox_path=Path(outbox),
        outbox_synchronous="NORMAL",
        stats_interval_s=0,
        max_inflight=1000,
    )
    pub = MqttPublisher(config, cameras=["cam-1"])
    pub.start()
    deadline = time.monotonic() + 30
    while not pub.connected and time.monotonic() < deadline:
        time.sleep(0.01)  # events created before the first connect would count its delay
    batch = 50 if rate == 0 else 1
    sent = 0
    start = time.monotonic()
    while sent < count:
        events = [
            Event(camera_id="cam-1", type=EventType.SPEEDING, severity=Severity.HIGH, track_id=i)
            for i in range(sent, min(count, sent + batch))
        ]
        pub.publish_many(events)
        sent += len(events)
        if rate:
            delay = start + sent / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    pub.flush(120)
    pub.close()


def _run(db: str, nodes: int, per_node: int, rate: float, workdir: Path) -> dict[str, Any]:
    broker, port = _start_broker(workdir)
    url = (
        f"sqlite:///{workdir / f'agg-{uuid.uuid4().hex[:6]}.sqlite3'}" if db == "sqlite" else PG_URL
    )
    schema = None if db == "sqlite" else f"tm_bench_{uuid.uuid4().hex[:10]}"
    store = EventStore(url, schema)
    latencies: list[float] = []
    commits: list[float] = []

    def on_commit(events: list[Event], committed: float) -> None:
        latencies.extend(committed - e.time.timestamp() for e in events)
        commits.append(committed)

    ingestor = Ingestor(
        IngestConfig(port=port, client_id="bench-agg", database_url=url, database_schema=schema),
        store=store,
        on_commit=on_commit,
    )
    ingestor.start()
    time.sleep(1.0)
    total = nodes * per_node
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_node, args=(port, i, per_node, rate, str(workdir / f"ob-{db}-{i}")))
        for i in range(nodes)
    ]
    start = time.monotonic()
    for proc in procs:
        proc.start()
    while store.count_events() < total and time.monotonic() - start < 300:
        time.sleep(0.05)
    stored = store.count_events()
    # From the first to the last commit: process start-up of the simulated nodes excluded.
    elapsed = (commits[-1] - commits[0]) if len(commits) > 1 else time.monotonic() - start
    for proc in procs:
        proc.join(timeout=60)
    ingestor.stop()
    store.drop()
    store.dispose()
    broker.send_signal(signal.SIGTERM)
    broker.wait()
    latencies.sort()
    return {
        "db": db,
        "nodes": nodes,
        "events": total,
        "stored": stored,
        "target_rate_per_s": rate * nodes if rate else None,
        "elapsed_s": round(elapsed, 2),
        "events_per_s": round(stored / elapsed, 1),
        "latency_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "latency_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1)
        if latencies
        else None,
        "duplicates": ingestor.metrics.duplicates,
        "load_avg_after": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the throughput and latency runs and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--events", type=int, default=20_000, help="throughput run, in total")
    parser.add_argument("--rate", type=float, default=1000.0, help="latency run, events/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="latency run length")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for db in args.db:
            runs.append(
                {
                    "mode": "throughput",
                    **_run(db, args.nodes, args.events // args.nodes, 0, Path(tmp)),
                }
            )
            per_node = int(args.rate * args.seconds) // args.nodes
            rate = args.rate / args.nodes
            runs.append({"mode": "latency", **_run(db, args.nodes, per_node, rate, Path(tmp))})
            print(json.dumps(runs[-2:], indent=1))
    result = {
        "benchmark": "transport",
        "command": "python -m benchmarks.transport.bench " + " ".join(argv or sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_avg_before": os.getloadavg(),
        "note": "2-core machine shared with other engineers: figures are disturbed by their load",
        "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
