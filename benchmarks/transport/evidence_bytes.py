"""Bytes on the uplink per event and per camera-hour, evidence images included.

Runs the real ``traffic-monitor edge run`` on each shared clip with its shipped scene config
(real detector, tracker, rules and evidence encoder; events to a JSON-lines file, evidence
JPEGs to a folder), then sizes every message exactly as the node's MQTT publisher sends it:
an MQTT v5 PUBLISH at QoS 1 (fixed header, topic, packet id, the correlation data that names
the outbox row, payload). Events are encoded as the publisher encodes them; each
image travels on its own snapshot topic. The downlink (the broker's PUBACKs and the
aggregator's delivery acknowledgements, one per message in the worst case of one message
per batch) is reported apart, as are the node's periodic stats.

Per camera-hour figures extrapolate the clip (20 s and 30 s) to an hour: the event mix of a
short clip is not an hour's, so read them as an order of magnitude for link sizing.

Run: ``python -m benchmarks.transport.evidence_bytes`` → ``benchmarks/results/evidence_bytes.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from edge.transport.publisher import PackedProperties
from traffic_monitor.contract import (
    DeliveryAck,
    Event,
    NodeStats,
    OutboxMetrics,
    SnapshotKind,
    ack_topic,
    correlation_data,
    decode_event,
    encode,
    event_topic,
    snapshot_topic,
    stats_topic,
)
from traffic_monitor.shared_data import REPO_ROOT

logger = logging.getLogger(__name__)

RESULTS = REPO_ROOT / "benchmarks" / "results" / "evidence_bytes.json"
CLIPS = {
    "overpass": REPO_ROOT / "configs" / "vn_nga_ba_hue_overpass.yaml",
    "intersection": REPO_ROOT / "configs" / "intersection_cctv.yaml",
}
CLIP_SECONDS = {"overpass": 608 / 30, "intersection": 909 / 30}
"""Media length of the shared clips (frames / fps, see tests/conftest.py)."""
SITE, NODE = "site", "node-0001"
OUTBOX_ID = uuid.uuid4().hex
SEQ = 1_234_567  # a seven-digit outbox row number
PUBACK_BYTES = 4  # MQTT v5 PUBACK, success: fixed header (2) + packet id (2)
STATS_PERIOD_S = 60.0  # MqttConfig.stats_interval_s default


def _varint_len(value: int) -> int:
    length = 1
    while value >= 128:
        value //= 128
        length += 1
    return length


def publish_bytes(topic: str, payload_len: int, outbox: bool = True) -> int:
    """Exact size of an MQTT v5 QoS 1 PUBLISH as the node's publisher sends it."""
    # the properties as the publisher packs them (with their length prefix); none: one 0 byte
    packed = PackedProperties(correlation_data(OUTBOX_ID, SEQ)).pack() if outbox else b"\0"
    remaining = 2 + len(topic.encode()) + 2 + len(packed) + payload_len
    return 1 + _varint_len(remaining) + remaining


def _ack_bytes() -> int:
    ack = DeliveryAck(outbox_id=OUTBOX_ID, stored=[(SEQ, SEQ)])
    return publish_bytes(ack_topic(SITE, NODE), len(encode(ack)), outbox=False)


def _stats_bytes() -> int:
    stats = NodeStats(
        site_id=SITE,
        node_id=NODE,
        period_s=STATS_PERIOD_S,
        events_by_type={"count": 12, "speeding": 1, "wrong_way": 1},
        counters={"resent": 0},
        outbox=OutboxMetrics(queued=3, sent=1000, oldest_age_s=0.2),
    )
    return publish_bytes(stats_topic(SITE, NODE), len(encode(stats)))


def run_edge(config: Path, workdir: Path) -> tuple[list[Event], Path]:
    """Run ``edge run`` on one scene config; return its events and evidence folder."""
    events, evidence = workdir / "events.jsonl", workdir / "evidence"
    run = {"cameras": [str(config)], "events": str(events), "evidence_dir": str(evidence)}
    (workdir / "run.yaml").write_text(yaml.safe_dump(run))
    cmd = [sys.executable, "-m", "traffic_monitor", "edge", "run", str(workdir / "run.yaml")]
    with (workdir / "edge.log").open("wb") as log:
        subprocess.run(cmd, cwd=REPO_ROOT, stdout=log, stderr=log, check=True)
    lines = events.read_text().splitlines() if events.exists() else []
    return [decode_event(line.encode()) for line in lines], evidence


def _images(event: Event, folder: Path) -> dict[SnapshotKind, int]:
    """Sizes of the event's evidence JPEGs (file names of ``edge.evidence``)."""
    files = {
        SnapshotKind.SNAPSHOT: folder / event.camera_id / f"{event.event_id}.jpg",
        SnapshotKind.CROP: folder / event.camera_id / f"{event.event_id}_crop.jpg",
    }
    return {kind: path.stat().st_size for kind, path in files.items() if path.exists()}


def measure(events: list[Event], evidence: Path, seconds: float) -> dict[str, Any]:
    """Uplink and downlink bytes of one clip's messages, per event and per camera-hour."""
    event_bytes, image_bytes, image_sizes = [], 0, []
    by_kind: dict[str, list[int]] = {kind.value: [] for kind in SnapshotKind}
    with_images = 0
    alert_bytes = 0  # events that carry images, with their images
    for event in events:
        # the wire carries the node's identity
        wire = event.model_copy(update={"site_id": SITE, "node_id": NODE})
        topic = event_topic(SITE, NODE, wire.camera_id, wire.type.value)
        event_bytes.append(publish_bytes(topic, len(encode(wire))))
        images = _images(event, evidence)
        with_images += bool(images)
        for kind, size in images.items():
            image_sizes.append(size)
            by_kind[kind.value].append(size)
            topic = snapshot_topic(SITE, NODE, wire.camera_id, wire.event_id, kind)
            image_bytes += publish_bytes(topic, size)
            alert_bytes += publish_bytes(topic, size)
        if images:
            alert_bytes += event_bytes[-1]
    messages = len(events) + len(image_sizes)
    uplink = sum(event_bytes) + image_bytes
    per_hour = 3600.0 / seconds
    stats_per_hour = _stats_bytes() * 3600.0 / STATS_PERIOD_S
    downlink = messages * (PUBACK_BYTES + _ack_bytes())
    return {
        "media_seconds": round(seconds, 2),
        "events": len(events),
        "events_with_images": with_images,
        "images": len(image_sizes),
        "image_bytes_median": {
            kind: int(statistics.median(sizes)) if sizes else 0 for kind, sizes in by_kind.items()
        },
        "image_bytes_max": {kind: max(sizes, default=0) for kind, sizes in by_kind.items()},
        "event_message_bytes_median": int(statistics.median(event_bytes)) if event_bytes else 0,
        "uplink_bytes": uplink,
        "uplink_bytes_per_event": round(uplink / max(len(events), 1)),
        "uplink_bytes_per_event_with_images": round(alert_bytes / max(with_images, 1)),
        "uplink_bytes_per_event_without_images": round(
            (sum(event_bytes) * 1.0 - (alert_bytes - image_bytes))
            / max(len(events) - with_images, 1)
        ),
        "events_per_camera_hour": round(len(events) * per_hour),
        "uplink_bytes_per_camera_hour": round(uplink * per_hour + stats_per_hour),
        "uplink_kbit_s_per_camera": round(
            (uplink * per_hour + stats_per_hour) * 8 / 3600 / 1000, 3
        ),
        "downlink_bytes_per_camera_hour": round(downlink * per_hour),
        "stats_bytes_per_camera_hour": round(stats_per_hour),
    }


def main() -> None:
    """Measure the clips and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", nargs="+", default=list(CLIPS), choices=list(CLIPS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", type=Path, help="keep each clip's events and images here")
    parser.add_argument(
        "--measured", type=Path, help="size the events and images kept by an earlier --keep run"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpu": platform.processor() or platform.machine(), "load": os.getloadavg()},
        "method": (
            "edge run (shipped scene config) -> events + evidence JPEGs; each message sized "
            "as an MQTT v5 QoS 1 PUBLISH with the correlation data naming its outbox row"
        ),
        "events_from": (
            f"edge run outputs kept in {args.measured}" if args.measured else "this run's edge run"
        ),
        "per_message": {
            "ack_bytes": _ack_bytes(),
            "puback_bytes": PUBACK_BYTES,
            "stats_bytes": _stats_bytes(),
        },
        "clips": {},
    }
    for clip in args.clips:
        with tempfile.TemporaryDirectory(prefix=f"bytes-{clip}-") as tmp:
            workdir = Path(tmp) if args.keep is None else args.keep / clip
            workdir.mkdir(parents=True, exist_ok=True)
            if args.measured is not None:
                lines = (args.measured / clip / "events.jsonl").read_text().splitlines()
                events = [decode_event(line.encode()) for line in lines]
                evidence = args.measured / clip / "evidence"
            else:
                logger.info("edge run on %s", CLIPS[clip].name)
                events, evidence = run_edge(CLIPS[clip], workdir)
            results["clips"][clip] = measure(events, evidence, CLIP_SECONDS[clip])
        logger.info("%s: %s", clip, results["clips"][clip])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    logger.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
