"""Where the cameras are, for the intake: the store's ``cameras`` table, cached for a while."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session, sessionmaker

from cloud.reports.correlate import CameraSite
from cloud.store.cameras import camera_positions

logger = logging.getLogger(__name__)

CameraLookup = Callable[[], Mapping[str, CameraSite]]
"""Returns the current camera id → location mapping (called once per report)."""


def fixed_cameras(cameras: Mapping[str, CameraSite]) -> CameraLookup:
    """A lookup over a constant mapping (tests, benchmarks)."""
    frozen = dict(cameras)
    return lambda: frozen


class StoredCameras:
    """Camera positions read from the store, refreshed at most every ``ttl_s`` seconds.

    A camera registered while the service runs is used for reports after at most ``ttl_s``;
    a shorter TTL costs one query per refresh, never one per report.

    Args:
        sessions: Session factory on the store.
        ttl_s: How long a read stays valid.
        clock: Monotonic clock (tests pass a fake).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: dict[str, CameraSite] = {}
        self._read_at: float | None = None

    def __call__(self) -> Mapping[str, CameraSite]:
        """The cameras with a position (cameras without one cannot be near anything)."""
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._ttl:
                self._cached = self._read()
                self._read_at = now
            return self._cached

    def invalidate(self) -> None:
        """Force a fresh read on the next call (after registering cameras)."""
        with self._lock:
            self._read_at = None

    def _read(self) -> dict[str, CameraSite]:
        with self._sessions() as session:
            positions = camera_positions(session)
        # name_vi / name_en come with the camera registry's multilingual names; a registry
        # without them (older store) gives None and the replies use the configured name
        sites = {
            p.camera_id: CameraSite(
                p.lat,
                p.lon,
                p.name or p.camera_id,
                getattr(p, "name_vi", None) or None,
                getattr(p, "name_en", None) or None,
            )
            for p in positions
            if p.lat is not None and p.lon is not None
        }
        logger.debug("%d cameras with a position", len(sites))
        return sites
