"""Detector groups under a watchdog: each detector runs its calls in a thread of its own.

Cameras with equal ``detector`` sections share one detector (one batched call per round).
Each such group calls its detector from a daemon thread, so the detect loop can wait for
the calls of every group at once, with a deadline. A call that misses the deadline is
declared stuck (a hung inference runtime, a wedged accelerator): the thread is abandoned
(a thread blocked in native code cannot be killed; being a daemon it never holds up the
process's exit) and the next call goes to a fresh thread with a freshly built detector.
A call that raises is handled alike. Restarts are counted by the supervisor; a group that
keeps failing fails its cameras, and when no camera is left ``edge run`` exits non-zero so
that the service manager restarts the whole process.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Protocol

import numpy as np

from edge.detections import Detections

logger = logging.getLogger(__name__)


class BatchDetector(Protocol):
    """The detector as the pipeline uses it (``edge.detector.Detector`` fits)."""

    names: tuple[str, ...]

    def detect(self, frames: Sequence[np.ndarray[Any, Any]]) -> list[Detections]:
        """Detect objects in several frames at once."""
        ...


class DetectorStalledError(TimeoutError):
    """A detector call took longer than the watchdog allows."""


_Request = tuple[list[np.ndarray[Any, Any]], "Future[list[Detections]]"]


class _CallThread:
    """A daemon thread that runs one detector's calls in order."""

    def __init__(self, name: str, detector: Callable[[], BatchDetector]) -> None:
        self._detector = detector
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, images: list[np.ndarray[Any, Any]]) -> Future[list[Detections]]:
        future: Future[list[Detections]] = Future()
        self._requests.put((images, future))
        return future

    def close(self) -> None:
        """Let the thread end after its current call (it is never joined)."""
        self._requests.put(None)

    def _loop(self) -> None:
        while (request := self._requests.get()) is not None:
            images, future = request
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._detector().detect(images))
            except BaseException as exc:  # handed to the detect loop with the result
                future.set_exception(exc)


class DetectorGroup:
    """One detector shared by some cameras, called from its own thread, restartable."""

    def __init__(
        self,
        name: str,
        detector: BatchDetector,
        cameras: Sequence[str],
        rebuild: Callable[[], BatchDetector] | None = None,
    ) -> None:
        """Start the group's thread.

        Args:
            name: For logs and thread names.
            detector: The detector (its class names are the group's for good).
            cameras: Camera ids detected by it.
            rebuild: Builds a fresh detector after a stall or an error; None: the same
                object is called again (it may still be stuck).
        """
        self.name = name
        self.detector = detector
        self.names = tuple(detector.names)
        self.cameras = tuple(cameras)
        self.restarts = 0
        self._rebuild = rebuild
        self._calls = _CallThread(f"detect-{name}", self._current)

    def _current(self) -> BatchDetector:
        return self.detector

    def submit(self, images: list[np.ndarray[Any, Any]]) -> Future[list[Detections]]:
        """Queue a batched call; the future gives the detections, image for image."""
        return self._calls.submit(images)

    def restart(self) -> None:
        """Abandon the thread (stuck, or its detector broke) for a fresh one.

        The detector is rebuilt in the new thread, as part of its first call (so a rebuild
        that hangs is caught by the same watchdog).
        """
        self._calls.close()
        self.restarts += 1
        rebuilt: list[BatchDetector] = []

        def detector() -> BatchDetector:
            if not rebuilt:
                fresh = self._rebuild() if self._rebuild is not None else self.detector
                self.detector = fresh
                rebuilt.append(fresh)
            return rebuilt[0]

        self._calls = _CallThread(f"detect-{self.name}-{self.restarts}", detector)
        logger.warning("detector %s restarted (%d so far)", self.name, self.restarts)

    def close(self) -> None:
        """Let the thread end."""
        self._calls.close()
