"""The ``demo`` sub-command: the whole system on one machine with embedded defaults.

Mosquitto on a free loopback port, one edge pipeline per camera config publishing over MQTT,
the aggregator's consumer storing into SQLite, and the HTTP API with the operations-centre
page. Prints the URL and a generated admin login; Ctrl-C (or SIGTERM) stops everything.
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
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
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
    import uvicorn

    from cloud.api import ApiSettings, create_app
    from cloud.api.cli import ensure_admin, open_store, register_camera_configs
    from cloud.ingest import IngestConfig, Ingestor

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
            IngestConfig(port=broker_port, client_id="demo-aggregator"), store=store
        )
        ingestor.start()
        stack.callback(ingestor.stop)
        pipeline = _start_edge(args, workdir, broker_port, stack)
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
        _wait_until_done(pipeline, args.max_frames is not None, args.duration)
    print("demo stopped")
    return 0


def _start_edge(
    args: argparse.Namespace, workdir: Path, broker_port: int, stack: contextlib.ExitStack
) -> Any:
    from edge.ingest import CaptureWorker, SourceConfig
    from edge.pipeline.commands import build_detectors, load_run_config, resolve_uri
    from edge.pipeline.runner import Pipeline
    from edge.rules import ExternalSignalStates
    from edge.transport.config import MqttConfig
    from edge.transport.publisher import MqttPublisher

    scenes = []
    for path in args.camera_config or DEFAULT_CONFIGS:
        _, loaded, base = load_run_config(path)
        scenes += [(scene, base) for scene in loaded]
    sources = {
        scene.camera.id: CaptureWorker(
            SourceConfig(
                uri=resolve_uri(scene.source.uri, base),
                camera_id=scene.camera.id,
                realtime=True,
                max_fps=scene.source.max_fps,
                loop=args.max_frames is None,
            )
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
                port=broker_port,
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
        PerSiteSink(publishers),  # the pipeline closes its sink when it ends
        evidence_dir=workdir / "evidence",
        external_signals=signals,
        node_id=DEMO_NODE,
    )
    thread = threading.Thread(
        target=pipeline.run, kwargs={"max_frames": args.max_frames}, name="demo-edge", daemon=True
    )
    thread.start()
    stack.callback(thread.join, 30)
    stack.callback(pipeline.stop)
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


def _wait_until_done(edge: threading.Thread, finite: bool, duration: float | None) -> None:
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    deadline = time.monotonic() + duration if duration is not None else float("inf")
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            if finite and not edge.is_alive():
                time.sleep(2.0)  # let the last events reach the store
                return
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
