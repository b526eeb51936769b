"""Prometheus metrics of the edge process, on their own registry (one per pipeline)."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

logger = logging.getLogger(__name__)

STAGES = ("capture_wait", "detect", "analysis_wait", "track_rules", "sink")
"""Stages of ``edge_stage_seconds``: ``analysis_wait`` is the detect loop waiting for the
analysis thread to take a round (above zero: the analytics, not the network, set the pace)."""


class PipelineMetrics:
    """fps, latency per stage, dropped frames, tracks, events by type, camera up/down."""

    def __init__(self) -> None:
        """Create the metrics on a private registry."""
        self.registry = CollectorRegistry()
        r = self.registry
        self.frames = Counter("edge_frames_total", "Frames processed", ["camera"], registry=r)
        self.dropped = Gauge(
            "edge_frames_dropped", "Frames dropped by the capture queue", ["camera"], registry=r
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
            "edge_camera_up", "1 when the camera delivers frames", ["camera"], registry=r
        )

    def serve(self, port: int, address: str = "127.0.0.1") -> None:
        """Expose ``/metrics`` on an HTTP port (a daemon thread)."""
        start_http_server(port, addr=address, registry=self.registry)
        logger.info("metrics on http://%s:%s/metrics", address, port)
