"""The ``demo`` sub-command: the whole system on one machine with embedded defaults.

Mosquitto on a free loopback port, one edge pipeline per camera config publishing over MQTT,
the aggregator's consumer storing into SQLite, and the HTTP API with the operations-centre
page. Prints the URL and a generated admin login; Ctrl-C (or SIGTERM) stops everything, in
order: the web page, then the edge pipeline (open incidents ended, partial counts and the
outbox flushed), then the aggregator, then the broker. The broker runs in a session of its
own, so a terminal's Ctrl-C reaches only the demo, which stops the broker last.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traffic_monitor.errors import UserFacingError
from traffic_monitor.net import free_port, wait_port

if TYPE_CHECKING:
    from edge.pipeline.sink import EventSink, OutgoingEvent

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIGS = [REPO / "configs" / "vn_nga_ba_hue_overpass.yaml"]
DEMO_NODE = "demo-node"
"""The node id of the demo's edge pipeline (its site is each camera's scene site)."""
MOSQUITTO = Path("/usr/sbin/mosquitto")
EDGE_STOP_TIMEOUT_S = 60
"""Longest wait for the pipeline to end its incidents and flush (the publisher's own flush is
bounded); only then do the aggregator and the broker stop."""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo",
        help="run broker, edge pipeline, aggregator and web page on this machine",
        description=(
            "Start Mosquitto on a free loopback port, an edge pipeline per camera config "
            "(looping the shared sample video), the aggregator on SQLite and the web page; "
            "print the URL and a generated admin login. Ctrl-C stops it all."
        ),
    )
    parser.add_argument(
        "--camera-config",
        type=Path,
        action="append",
        help="scene YAML (repeatable; default configs/vn_nga_ba_hue_overpass.yaml)",
    )
    parser.add_argument("--workdir", type=Path, default=Path("var/demo"), help="state folder")
    parser.add_argument("--port", type=int, default=8080, help="web port (default 8080)")
    parser.add_argument("--max-frames", type=int, help="stop after N frames (tests)")
    parser.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop cleanly after this many seconds (default: run until Ctrl-C or SIGTERM)",
    )
    parser.set_defaults(handler=_run_demo)


def _wait_port(port: int, timeout: float = 10.0) -> None:
    try:
        wait_port(port, timeout)
    except TimeoutError as exc:
        raise UserFacingError(str(exc)) from exc


def start_mosquitto(workdir: Path, stack: contextlib.ExitStack) -> int:
    """Start a private Mosquitto bound to loopback; return its port."""
    binary = shutil.which("mosquitto") or (str(MOSQUITTO) if MOSQUITTO.exists() else None)
    if binary is None:
        # amqtt speaks MQTT 3.1.1 only; the edge publisher and the consumer need MQTT 5.
        raise UserFacingError("the demo needs Mosquitto (MQTT 5): apt-get install mosquitto")
    port = free_port()
    conf = workdir / "mosquitto.conf"
    run_as = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"{run_as}listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(  # own session: Ctrl-C must not stop it before the pipeline
        [binary, "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    stack.callback(_stop_process, proc)
    _wait_port(port)
    logger.info("mosquitto pid %d on 127.0.0.1:%d", proc.pid, port)
    return port


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _run_demo(args: argparse.Namespace) -> int:
    stop = threading.Event()
    restore = _stop_on_signals(stop)  # before the slow start-up: a stop then is clean too
    try:
        return _demo(args, stop)
    finally:
        restore()


def _demo(args: argparse.Namespace, stop: threading.Event) -> int:
    import uvicorn

    from cloud.api import ApiSettings, create_app
    from cloud.api.cli import ensure_admin, open_store, register_camera_configs
    from cloud.ingest import IngestConfig, Ingestor
    from traffic_monitor.contract import BrokerConnection

    workdir: Path = args.workdir
    shutil.rmtree(workdir, ignore_errors=True)  # a fresh database and outbox per run
    workdir.mkdir(parents=True)
    settings = ApiSettings(database_url=f"sqlite:///{workdir / 'aggregator.sqlite3'}")
    with contextlib.ExitStack() as stack:
        broker_port = start_mosquitto(workdir, stack)
        store = open_store(settings)
        stack.callback(store.dispose)
        password = ensure_admin(store)
        register_camera_configs(store, args.camera_config or DEFAULT_CONFIGS)
        ingestor = Ingestor(
            IngestConfig(broker=BrokerConnection(port=broker_port), client_id="demo-aggregator"),
            store=store,
        )
        ingestor.start()
        stack.callback(ingestor.stop)
        if stop.is_set():
            return 0
        pipeline = _start_edge(args, workdir, broker_port, stack, stop)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, store), host="127.0.0.1", port=args.port, log_level="warning"
            )
        )
        web = threading.Thread(target=server.run, name="demo-web", daemon=True)
        web.start()
        stack.callback(web.join, 10)
        stack.callback(setattr, server, "should_exit", True)
        _wait_port(args.port)
        print(f"operations centre: http://127.0.0.1:{args.port}/")
        print(f"admin login: admin / {password}   (generated for this run)")
        print("Ctrl-C stops the demo")
        _wait_until_done(pipeline, stop, args.duration)
    print("demo stopped")
    return 0


def _start_edge(
    args: argparse.Namespace,
    workdir: Path,
    broker_port: int,
    stack: contextlib.ExitStack,
    stop: threading.Event,
) -> Any:
    from edge.evidence import EvidenceConfig
    from edge.ingest import CaptureWorker
    from edge.pipeline.commands import build_detectors, capture_config, load_run_config
    from edge.pipeline.runner import Pipeline
    from edge.rules import ExternalSignalStates
    from edge.transport.config import MqttConfig
    from edge.transport.publisher import MqttPublisher
    from traffic_monitor.contract import BrokerConnection

    scenes = []
    for path in args.camera_config or DEFAULT_CONFIGS:
        _, loaded, base = load_run_config(path)
        scenes += [(scene, base) for scene in loaded]
    sources = {
        scene.camera.id: CaptureWorker(
            capture_config(scene, base, realtime=True, loop=args.max_frames is None)
        )
        for scene, base in scenes
    }
    signals = ExternalSignalStates()  # signal_state commands reach the red-light rule
    only_scenes = [scene for scene, _ in scenes]
    publishers = {}
    for site in sorted({scene.camera.site for scene in only_scenes}):
        # One node per site: a node publishes for its own site only; the events carry the
        # scene's site and DEMO_NODE from where they are made, never restamped.
        publishers[site] = MqttPublisher(
            MqttConfig(
                broker=BrokerConnection(port=broker_port),
                site_id=site,
                node_id=DEMO_NODE,
                outbox_path=workdir / f"outbox-{site}.sqlite3",
                stats_interval_s=10.0,
            ),
            cameras=[s.camera.id for s in only_scenes if s.camera.site == site],
            signals=signals,
        )
        publishers[site].start()
    pipeline = Pipeline(
        only_scenes,
        build_detectors(only_scenes),
        sources,
        PerSiteSink(publishers),  # the pipeline closes its sinks (flushing the outboxes)
        evidence=EvidenceConfig(),  # images travel with their events to the aggregator
        external_signals=signals,
        detector_factory=_detector_factory(),
        stop_event=stop,
        node_id=DEMO_NODE,
    )

    def run_edge() -> None:
        stats = pipeline.run(max_frames=args.max_frames)
        logger.info("edge pipeline ended: %d frames, %d events", stats.frames, stats.events)

    thread = threading.Thread(target=run_edge, name="demo-edge", daemon=True)
    thread.start()
    stack.callback(_stop_edge, pipeline, thread)
    return thread


class PerSiteSink:
    """Hands each event to the publisher of its site (the demo runs one node per site)."""

    def __init__(self, publishers: Mapping[str, EventSink]) -> None:
        """Keep the publishers by site id."""
        self.publishers = dict(publishers)

    def write_many(self, items: Sequence[OutgoingEvent]) -> None:
        """Split one round by site; each publisher stores its part in one transaction."""
        by_site: dict[str, list[OutgoingEvent]] = {}
        for item in items:
            by_site.setdefault(item.event.site_id, []).append(item)
        for site, part in by_site.items():
            self.publishers[site].write_many(part)

    def close(self) -> None:
        """Close every publisher (each flushes what the aggregator has not confirmed)."""
        for publisher in self.publishers.values():
            publisher.close()


def _detector_factory() -> Any:
    from edge.detector import Detector

    return Detector


def _stop_edge(pipeline: Any, thread: threading.Thread) -> None:
    """Stop the pipeline and wait for its flush (before the aggregator and broker stop)."""
    pipeline.stop()
    thread.join(EDGE_STOP_TIMEOUT_S)
    if thread.is_alive():
        logger.warning("edge pipeline still flushing after %d s; going on", EDGE_STOP_TIMEOUT_S)


def _stop_on_signals(stop: threading.Event) -> Any:
    """SIGINT and SIGTERM set ``stop``; returns a function that puts the old handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {
        sig: signal.signal(sig, lambda signum, frame: stop.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    return lambda: [signal.signal(sig, handler) for sig, handler in previous.items()]


def _wait_until_done(edge: threading.Thread, stop: threading.Event, duration: float | None) -> None:
    """Until a signal, ``--duration`` seconds, or the end of a finite run (``--max-frames``)."""
    deadline = time.monotonic() + duration if duration is not None else float("inf")
    while not stop.is_set() and edge.is_alive() and time.monotonic() < deadline:
        stop.wait(min(0.5, max(deadline - time.monotonic(), 0.0)))
    if not stop.is_set() and not edge.is_alive():
        time.sleep(2.0)  # a finite run: let the last events reach the store
