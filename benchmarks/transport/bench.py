"""Transport benchmark: N simulated edge nodes → Mosquitto → aggregator → SQLite / PostgreSQL.

Measures sustained stored events per second (durable outbox on each node, QoS 1, deduplicated
storage) and end-to-end latency (event created → committed in the store) at a fixed rate.
Four runs per database: ``ingest`` (aggregator capacity: a backlog the nodes queued in the
broker is drained), ``end_to_end`` (the real edge publishers and the aggregator at once on
this machine), ``sustained`` (light load generators publish while several aggregator
processes share the subscription; see ``sustained.py``) and ``latency`` (``--rate`` events/s
in total).

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
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.transport.sustained import SustainedLoad, run_sustained
from cloud.ingest import IngestConfig, Ingestor
from cloud.store import EventStore
from edge.transport import MqttConfig, MqttPublisher
from traffic_monitor.contract import BrokerConnection, Event, EventType, Severity
from traffic_monitor.net import free_port, wait_port
from traffic_monitor.shared_data import REPO_ROOT

logger = logging.getLogger(__name__)

PG_URL = os.environ.get(
    "TRAFFIC_MONITOR_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
RESULTS = REPO_ROOT / "benchmarks" / "results" / "transport.json"
MODES = ("ingest", "end_to_end", "sustained", "latency")


def _start_broker(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    run_as = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"{run_as}persistence false\nmax_queued_messages 0\n"
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
    )
    proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
    except TimeoutError as exc:
        raise RuntimeError("mosquitto did not start") from exc
    return proc, port


@dataclass(frozen=True)
class _Load:
    """What the simulated nodes publish: ``per_node`` events each, at ``rate`` (0: at once)."""

    nodes: int
    per_node: int
    rate: float

    @property
    def total(self) -> int:
        return self.nodes * self.per_node


def _node(port: int, index: int, load: _Load, outbox: str, cpu: Any, *, away: bool) -> None:
    """One simulated edge node (a separate process): publish ``load.per_node`` events.

    Puts the CPU seconds the process used from its first connection to the end on ``cpu``.
    With the aggregator ``away`` it ends once the broker holds its events (the outbox keeps
    them until the aggregator confirms, which it does after the node has gone).
    """
    config = MqttConfig(
        broker=BrokerConnection(port=port),
        site_id="bench",
        node_id=f"node-{index:02d}",
        outbox_path=Path(outbox),
        outbox_synchronous="NORMAL",
        stats_interval_s=0,
        max_inflight=1000,
        max_unconfirmed=max(load.per_node, 1),
    )
    camera = f"cam-{index:02d}"  # a node speaks only for its own cameras
    pub = MqttPublisher(config, cameras=[camera])
    pub.start()
    deadline = time.monotonic() + 30
    while not pub.connected and time.monotonic() < deadline:
        time.sleep(0.01)  # events created before the first connect would count its delay
    cpu_start = time.process_time()
    count, rate = load.per_node, load.rate
    batch = 50 if rate == 0 else 1
    sent = 0
    start = time.monotonic()
    while sent < count:
        events = [
            Event(
                camera_id=camera,
                site_id=config.site_id,  # the node's identity, made with the event
                node_id=config.node_id,
                type=EventType.SPEEDING,
                severity=Severity.HIGH,
                track_id=i,
            )
            for i in range(sent, min(count, sent + batch))
        ]
        pub.publish_many(events)
        sent += len(events)
        if rate:
            delay = start + sent / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    if away:  # the aggregator is away: wait until the broker holds them, not for its confirmation
        deadline = time.monotonic() + 120
        while pub.published < count and time.monotonic() < deadline:
            time.sleep(0.01)
        cpu.put(time.process_time() - cpu_start)
        pub.close(timeout=0)
        return
    pub.flush(120)
    cpu.put(time.process_time() - cpu_start)
    pub.close()


def _process_cpu_s(pid: int) -> float:
    """CPU seconds used so far by a process (Linux ``/proc``; 0 elsewhere)."""
    try:
        return _stat_cpu_s(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return 0.0


def _stat_cpu_s(stat: str) -> float:
    """User + system CPU seconds from the text of a ``/proc/<pid>/stat`` file."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Recorder:
    """The aggregator's commit hook: latencies and commit times."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.commits: list[float] = []

    def __call__(self, events: list[Event], committed: float) -> None:
        self.latencies.extend(committed - e.time.timestamp() for e in events)
        self.commits.append(committed)


def _start_nodes(
    port: int, load: _Load, workdir: Path, cpu: Any, away: bool = False
) -> list[mp.process.BaseProcess]:
    ctx = mp.get_context("spawn")
    procs: list[mp.process.BaseProcess] = [
        ctx.Process(
            target=_node,
            args=(port, i, load, str(workdir / f"ob-{i}"), cpu),
            kwargs={"away": away},
        )
        for i in range(load.nodes)
    ]
    for proc in procs:
        proc.start()
    return procs


def _postgres_cpu_s() -> float:
    """CPU seconds used so far by all PostgreSQL server processes on this machine."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process ended meanwhile
        if text.split(" ", 2)[1] == "(postgres)":
            total += _stat_cpu_s(text)
    return total


def _wait_stored(ingestor: Ingestor, store: EventStore, total: int, timeout_s: float = 300) -> int:
    """Wait on the consumer's counter (polling the table would load the database), then count."""
    start = time.monotonic()
    while ingestor.metrics.stored < total and time.monotonic() - start < timeout_s:
        time.sleep(0.02)
    return store.count_events()


def _wait_subscribed(ingestor: Ingestor) -> None:
    deadline = time.monotonic() + 30
    while not ingestor.connected and time.monotonic() < deadline:
        time.sleep(0.01)


def _run(db: str, mode: str, load: _Load, workdir: Path) -> dict[str, Any]:
    """Run one measurement and return its figures.

    ``ingest``: the aggregator drains a backlog the nodes queued in the broker while it was
    offline (aggregator + broker + database capacity, without the simulated nodes competing
    for the same CPU). ``end_to_end``: the nodes publish as fast as they can while the
    aggregator stores. ``latency``: the nodes publish at ``load.rate`` each.
    """
    broker, port = _start_broker(workdir)
    url, schema = _database(db, workdir)
    store = EventStore(url, schema)
    recorder = _Recorder()
    config = IngestConfig(
        broker=BrokerConnection(port=port),
        client_id="bench-agg",
        database_url=url,
        database_schema=schema,
    )
    total = load.total
    ingestor = Ingestor(config, store=store, on_commit=recorder)
    ingestor.start()
    _wait_subscribed(ingestor)
    node_cpu: Any = mp.get_context("spawn").Queue()
    nodes_dir = Path(tempfile.mkdtemp(dir=workdir))
    if mode == "ingest":
        ingestor.stop()  # its persistent session keeps collecting in the broker
        for proc in _start_nodes(port, load, nodes_dir, node_cpu, away=True):
            proc.join()
        ingestor = Ingestor(config, store=store, on_commit=recorder)
        procs: list[mp.process.BaseProcess] = []
    else:
        procs = _start_nodes(port, load, nodes_dir, node_cpu)
    cpu_before, broker_cpu_before = time.process_time(), _process_cpu_s(broker.pid)
    db_cpu_before = _postgres_cpu_s()
    started = time.monotonic()
    if mode == "ingest":
        ingestor.start()
    stored = _wait_stored(ingestor, store, total)
    aggregator_cpu = time.process_time() - cpu_before
    broker_cpu = _process_cpu_s(broker.pid) - broker_cpu_before
    db_cpu = _postgres_cpu_s() - db_cpu_before
    commits = recorder.commits
    # From the first to the last commit: process start-up of the simulated nodes excluded.
    elapsed = (commits[-1] - commits[0]) if len(commits) > 1 else time.monotonic() - started
    for proc in procs:
        proc.join(timeout=60)
    ingestor.stop()
    store.drop()
    store.dispose()
    broker.send_signal(signal.SIGTERM)
    broker.wait()
    nodes_cpu = sum(node_cpu.get(timeout=60) for _ in range(load.nodes))
    latencies = sorted(recorder.latencies) if mode != "ingest" else []
    return {
        "mode": mode,
        "db": db,
        "nodes": load.nodes,
        "events": total,
        "stored": stored,
        "target_rate_per_s": load.rate * load.nodes if load.rate else None,
        "elapsed_s": round(elapsed, 2),
        "events_per_s": round(stored / elapsed, 1),
        "latency_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "latency_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1)
        if latencies
        else None,
        "duplicates": ingestor.metrics.duplicates,
        "aggregator_cpu_us_per_event": round(1e6 * aggregator_cpu / max(stored, 1), 1),
        "broker_cpu_us_per_event": round(1e6 * broker_cpu / max(stored, 1), 1),
        "nodes_cpu_us_per_event": round(1e6 * nodes_cpu / max(stored, 1), 1),
        "database_server_cpu_us_per_event": round(1e6 * db_cpu / max(stored, 1), 1)
        if db == "postgresql"
        else None,
        "load_avg_after": os.getloadavg(),
    }


def _run_sustained(db: str, load: SustainedLoad, workdir: Path) -> dict[str, Any]:
    """Load generators and ``load.aggregators`` consumer processes at once (see sustained.py)."""
    broker, port = _start_broker(workdir)
    url, schema = _database(db, workdir)
    probes = {"broker": lambda: _process_cpu_s(broker.pid)}
    if db == "postgresql":
        probes["database_server"] = _postgres_cpu_s
    try:
        figures = run_sustained(port, (url, schema), load, probes)
    finally:
        store = EventStore(url, schema)
        counted = store.count_events()
        store.drop()
        store.dispose()
        broker.send_signal(signal.SIGTERM)
        broker.wait()
    return {
        "mode": "sustained",
        "db": db,
        "nodes": load.nodes,
        "aggregators": load.aggregators,
        "events": load.total,
        "counted_in_store": counted,
        **figures,
        "load_avg_after": os.getloadavg(),
    }


def _database(db: str, workdir: Path) -> tuple[str, str | None]:
    """A fresh database for one run: a SQLite file, or a new PostgreSQL schema."""
    if db == "sqlite":
        return f"sqlite:///{workdir / f'agg-{uuid.uuid4().hex[:6]}.sqlite3'}", None
    return PG_URL, f"tm_bench_{uuid.uuid4().hex[:10]}"


def main(argv: list[str] | None = None) -> int:
    """Run the throughput and latency runs and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument(
        "--aggregators", type=int, default=2, help="consumer processes of the sustained run"
    )
    parser.add_argument("--events", type=int, default=20_000, help="throughput runs, in total")
    parser.add_argument("--rate", type=float, default=1000.0, help="latency run, events/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="latency run length")
    parser.add_argument(
        "--modes", nargs="+", default=list(MODES), choices=MODES, help="runs per database"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    load_before = os.getloadavg()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for db in args.db:
            for mode in args.modes:
                if mode == "sustained":
                    per = args.events // args.nodes
                    sustained = SustainedLoad(args.nodes, per, args.aggregators)
                    runs.append(_run_sustained(db, sustained, Path(tmp)))
                    print(json.dumps(runs[-1]))
                    continue
                if mode == "latency":
                    per_node = int(args.rate * args.seconds) // args.nodes
                    load = _Load(args.nodes, per_node, args.rate / args.nodes)
                else:
                    load = _Load(args.nodes, args.events // args.nodes, 0.0)
                runs.append(_run(db, mode, load, Path(tmp)))
                print(json.dumps(runs[-1]))
    result = {
        "benchmark": "transport",
        "command": "python -m benchmarks.transport.bench " + " ".join(argv or sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_avg_before": load_before,
        "note": (
            "2-core machine shared with other work (load averages recorded per run). "
            "ingest: the aggregator drains a backlog queued in the broker (aggregator + broker "
            "+ database capacity); end_to_end: the simulated nodes publish on the same 2 cores "
            "meanwhile; latency: event created -> committed at the target rate."
        ),
        "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
