"""Prometheus metrics of the edge process, on their own registry (one per pipeline)."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

logger = logging.getLogger(__name__)

STAGES = ("capture_wait", "detect", "analysis_wait", "track_rules", "sink")
"""Stages of ``edge_stage_seconds``: ``analysis_wait`` is the detect loop waiting for the
analysis thread to take a round (above zero: the analytics, not the network, set the pace)."""

CAMERA_STATES = ("starting", "online", "offline", "degraded", "failed", "finished")
"""Values of ``edge_camera_state`` (one is 1 per camera, the others 0)."""

NODE_STATS_COUNTERS = {
    "frames": "frames",
    "frames_dropped": "dropped",
    "frames_discarded": "discarded",
    "events": "events",
    "events_dropped": "events_dropped",
    "evidence_images_dropped": "images_dropped",
    "sink_errors": "sink_errors",
    "errors": "errors",
    "restarts": "restarts",
}
"""``NodeStats.counters`` key → attribute of :class:`PipelineMetrics` whose total it reports."""


class PipelineMetrics:
    """fps, latency per stage, dropped frames, tracks, events, camera state, failures."""

    def __init__(self) -> None:
        """Create the metrics on a private registry."""
        self.registry = CollectorRegistry()
        r = self.registry
        self.frames = Counter("edge_frames_total", "Frames processed", ["camera"], registry=r)
        self.dropped = Gauge(
            "edge_frames_dropped", "Frames dropped by the capture queue", ["camera"], registry=r
        )
        self.discarded = Counter(
            "edge_frames_discarded_total",
            "Frames taken but not analysed: the camera's unit was restarting, or its "
            "detector stalled or failed on them",
            ["camera"],
            registry=r,
        )
        self.fps = Gauge("edge_fps", "Processed frames per second", ["camera"], registry=r)
        self.latency = Histogram(
            "edge_stage_seconds",
            "Seconds per pipeline stage per batch",
            ["stage"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.tracks = Gauge("edge_tracks", "Live tracks", ["camera"], registry=r)
        self.events = Counter("edge_events_total", "Events emitted", ["type"], registry=r)
        self.camera_up = Gauge(
            "edge_camera_up",
            "1 while the camera delivers frames (0 while it reconnects, has failed or ended)",
            ["camera"],
            registry=r,
        )
        self._init_supervision(r)

    def _init_supervision(self, r: CollectorRegistry) -> None:
        self.camera_state = Gauge(
            "edge_camera_state",
            "1 for the camera's current state (starting, online, offline, degraded, failed, "
            "finished), 0 for the others",
            ["camera", "state"],
            registry=r,
        )
        self.errors = Counter(
            "edge_errors_total",
            "Failures caught by a camera's error boundaries, by stage (capture, analytics, "
            "rule:<name>, evidence, detector, sink)",
            ["camera", "stage"],
            registry=r,
        )
        self.restarts = Counter(
            "edge_restarts_total",
            "Restarts of a camera's parts by the supervisor (capture, analytics, detector)",
            ["camera", "stage"],
            registry=r,
        )
        self.sink_errors = Counter(
            "edge_sink_errors_total", "Rounds the event sink refused", ["error"], registry=r
        )
        self.events_dropped = Counter(
            "edge_events_dropped_total",
            "Events lost because the sink refused them even without their images",
            ["type"],
            registry=r,
        )
        self.images_dropped = Counter(
            "edge_evidence_images_dropped_total",
            "Evidence images left out so that their events could be stored",
            registry=r,
        )

    def totals(self) -> dict[str, float]:
        """Running totals of the counters over every camera and label, for node stats.

        Keys (the names of :data:`NODE_STATS_COUNTERS`): frames analysed, frames dropped by
        the capture queues and discarded, events handed to the sink, events and evidence
        images the sink refused, sink failures, errors caught by the cameras' error
        boundaries, restarts of camera parts. The edge publisher reports their increase per
        stats period in ``NodeStats.counters`` (``edge.transport.presence``).
        """
        return {
            name: sum(
                sample.value
                for family in getattr(self, attribute).collect()
                for sample in family.samples
                if not sample.name.endswith("_created")
            )
            for name, attribute in NODE_STATS_COUNTERS.items()
        }

    def set_camera_state(self, camera: str, state: str) -> None:
        """Set ``edge_camera_state`` of a camera (one state at 1, the others at 0)."""
        for name in CAMERA_STATES:
            self.camera_state.labels(camera, name).set(1 if name == state else 0)

    def serve(self, port: int, address: str = "127.0.0.1") -> None:
        """Expose ``/metrics`` on an HTTP port (a daemon thread)."""
        start_http_server(port, addr=address, registry=self.registry)
        logger.info("metrics on http://%s:%s/metrics", address, port)
