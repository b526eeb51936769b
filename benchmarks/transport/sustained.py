"""Sustained ingest with load generators and several aggregator processes at once.

The ``end_to_end`` run of the transport benchmark puts the real edge publisher (pydantic
events, durable SQLite outbox, paho) of every simulated node on the same two cores as the
broker, the aggregator and PostgreSQL: on this machine it measures the sum of all of them,
not what a central aggregator sustains when the nodes are boxes of their own at the roadside.
This run measures the latter the way broker benchmarks do (emqtt-bench, mqtt-benchmark): the
nodes are light load generators that send valid, pre-encoded event messages at QoS 1 (each
with its own event id, on its own node's topic) as fast as the broker takes them, while
``aggregators`` consumer processes share the subscription and store into the database
concurrently. Stored events per second are counted from the first commit to the last; every
event must be stored exactly once.

Each process reports its CPU seconds, so the figures say where the two cores went.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cloud.ingest import IngestConfig, Ingestor
from cloud.store import EventStore
from traffic_monitor.contract import (
    BrokerConnection,
    Event,
    EventType,
    Severity,
    encode,
    event_topic,
)
from traffic_monitor.contract.mqtt_client import connect_properties, make_client

Probes = Mapping[str, Callable[[], float]]
"""Named CPU-seconds counters of processes outside this run (broker, database server)."""

SITE = "bench"
WINDOW = 1000
"""QoS 1 messages a load generator may have unacknowledged (as the edge's max_inflight)."""


@dataclass(frozen=True)
class SustainedLoad:
    """What one run sends: ``per_node`` events from each of ``nodes`` generators."""

    nodes: int
    per_node: int
    aggregators: int

    @property
    def total(self) -> int:
        """Events sent in all."""
        return self.nodes * self.per_node


def _payloads(index: int, count: int) -> list[tuple[str, bytes]]:
    """``count`` valid event messages of node ``index``, encoded before the clock starts."""
    node = f"node-{index:02d}"
    camera = f"cam-{index:02d}"  # a node speaks only for its own cameras
    topic = event_topic(SITE, node, camera, EventType.SPEEDING.value)
    return [
        (
            topic,
            encode(
                Event(
                    site_id=SITE,
                    node_id=node,
                    camera_id=camera,
                    type=EventType.SPEEDING,
                    severity=Severity.HIGH,
                    track_id=i,
                )
            ),
        )
        for i in range(count)
    ]


def generator_node(port: int, index: int, count: int, sync: Any) -> None:
    """A load generator process: connect, wait for ``go``, publish, wait for every PUBACK.

    ``sync`` is ``(ready, go, out)``: its index goes on ``ready`` once connected, it starts
    when the ``go`` event is set, and its CPU seconds go on ``out``.
    """
    ready, go, out = sync
    messages = _payloads(index, count)
    window, acked = threading.Semaphore(WINDOW), threading.Semaphore(0)

    def on_publish(*_: Any) -> None:
        window.release()
        acked.release()

    client = make_client(f"bench-gen-{index:02d}")
    # The generator keeps its own window, as the edge publisher does: with a paho limit,
    # every PUBACK makes paho scan all its pending messages for one to send.
    client.max_inflight_messages_set(0)
    client.on_publish = on_publish
    client.connect("127.0.0.1", port, 30, properties=connect_properties(0))
    client.loop_start()
    ready.put(index)
    go.wait()
    cpu = time.process_time()
    for topic, payload in messages:
        window.acquire()
        client.publish(topic, payload, qos=1)
    for _ in messages:
        acked.acquire()
    out.put(time.process_time() - cpu)
    client.disconnect()
    client.loop_stop()


def aggregator(
    port: int, index: int, database: tuple[str, str | None], stored: Any, queues: Any
) -> None:
    """One aggregator process of the shared subscription; reports its commits and CPU.

    ``queues`` is ``(ready, stop, out)``: it puts its index on ``ready`` once subscribed,
    stores until an item arrives on ``stop``, then puts its figures on ``out``.
    """
    ready, stop, out = queues
    url, schema = database
    commits: list[float] = []

    def on_commit(events: list[Event], committed: float) -> None:
        commits.append(committed)
        with stored.get_lock():
            stored.value += len(events)

    config = IngestConfig(
        broker=BrokerConnection(port=port),
        client_id=f"bench-agg-{index}",
        database_url=url,
        database_schema=schema,
    )
    ingestor = Ingestor(config, store=EventStore(url, schema), on_commit=on_commit)
    ingestor.start()
    while not ingestor.connected:
        time.sleep(0.01)
    ready.put(index)
    cpu = time.process_time()
    stop.get()
    used = time.process_time() - cpu
    ingestor.stop()
    first, last = (commits[0], commits[-1]) if commits else (None, None)
    out.put((used, first, last, ingestor.metrics.stored, ingestor.metrics.duplicates))


def run_sustained(
    port: int, database: tuple[str, str | None], load: SustainedLoad, probes: Probes
) -> dict[str, Any]:
    """Start the aggregators and the generators, wait until all is stored, return figures.

    Args:
        port: The broker's port.
        database: Database URL and PostgreSQL schema (None for SQLite).
        load: Generators, events and aggregator processes.
        probes: CPU-seconds counters of other processes (broker, database server), read when
            the generators start and when the last event is stored; reported per event.
    """
    url, schema = database
    ctx = mp.get_context("spawn")
    stored = ctx.Value("q", 0)
    agg_ready, agg_stop, agg_out = ctx.Queue(), ctx.Queue(), ctx.Queue()
    aggregators = [
        ctx.Process(
            target=aggregator,
            args=(port, i, (url, schema), stored, (agg_ready, agg_stop, agg_out)),
            daemon=True,
        )
        for i in range(load.aggregators)
    ]
    for proc in aggregators:
        proc.start()
    for _ in aggregators:
        agg_ready.get(timeout=60)
    EventStore(url, schema).create()
    gen_ready, gen_out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    generators = [
        ctx.Process(
            target=generator_node,
            args=(port, i, load.per_node, (gen_ready, go, gen_out)),
            daemon=True,
        )
        for i in range(load.nodes)
    ]
    for proc in generators:
        proc.start()
    for _ in generators:
        gen_ready.get(timeout=120)
    before = {name: probe() for name, probe in probes.items()}
    go.set()
    deadline = time.monotonic() + 300
    while stored.value < load.total and time.monotonic() < deadline:
        time.sleep(0.05)
    used = {name: probe() - before[name] for name, probe in probes.items()}
    for _ in aggregators:
        agg_stop.put("stop")
    reports = [agg_out.get(timeout=120) for _ in aggregators]
    node_cpu = sum(gen_out.get(timeout=60) for _ in generators)
    for proc in [*generators, *aggregators]:
        proc.join(timeout=60)
    figures = _figures(reports, node_cpu)
    for name, seconds in used.items():
        figures[f"{name}_cpu_us_per_event"] = round(1e6 * seconds / max(figures["stored"], 1), 1)
    return figures


def _figures(reports: list[Any], node_cpu: float) -> dict[str, Any]:
    firsts = [r[1] for r in reports if r[1] is not None]
    lasts = [r[2] for r in reports if r[2] is not None]
    stored = sum(r[3] for r in reports)
    elapsed = max(lasts) - min(firsts) if firsts else float("nan")
    return {
        "stored": stored,
        "duplicates": sum(r[4] for r in reports),
        "elapsed_s": round(elapsed, 2),
        "events_per_s": round(stored / elapsed, 1) if elapsed > 0 else None,
        "aggregator_cpu_us_per_event": round(1e6 * sum(r[0] for r in reports) / max(stored, 1), 1),
        "nodes_cpu_us_per_event": round(1e6 * node_cpu / max(stored, 1), 1),
    }
