"""The capture worker: reads one camera in its own thread into a bounded queue.

When detection falls behind, a live camera's oldest queued frame is dropped and counted,
never an unbounded backlog. A lost or stalled live source is reopened with exponential
backoff, and each transition between online and offline is reported. A worker whose thread
ended on an error can be replaced by :meth:`CaptureWorker.restarted`, which goes on where it
left off (a file resumes at its next frame, with the same media clock).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from edge.ingest.config import SourceConfig
from edge.ingest.frame import Frame
from edge.ingest.rate import FrameRateLimiter
from edge.ingest.source import SourceError, SourceKind, open_capture, source_kind

logger = logging.getLogger(__name__)

MAX_CONSECUTIVE_DECODE_ERRORS = 25
"""Undecodable frames in a row after which a live source is reopened."""

TRUNCATION_RATIO = 0.9
"""A file that ends before this share of its announced frames is reported as truncated."""


@dataclass(frozen=True)
class StatusChange:
    """A camera went online or offline.

    Attributes:
        camera_id: The camera.
        online: New state.
        reason: Why (``connected``, ``end of stream``, ``open failed: …``).
        time: Unix time of the change.
        outage_s: For a return online, how long the camera was offline.
    """

    camera_id: str
    online: bool
    reason: str
    time: float
    outage_s: float | None = None


@dataclass
class CaptureStats:
    """Counters of one capture worker (read by metrics and benchmarks)."""

    frames_read: int = 0
    frames_skipped: int = 0
    frames_dropped: int = 0
    decode_errors: int = 0
    reconnects: int = 0
    decode_seconds: float = 0.0


@dataclass(frozen=True)
class CapturePosition:
    """Where a worker stopped, for its replacement to go on from (files only).

    Attributes:
        next_index: Index the next frame gets (counts skipped frames and earlier loops).
        loop_start: Index of the first frame of the current pass over a looping file.
        pts_offset: Media seconds added to the current pass (earlier passes of a loop).
        epoch: Unix time of media time 0 (None: no frame was delivered yet).
    """

    next_index: int
    loop_start: int
    pts_offset: float
    epoch: float | None


StatusCallback = Callable[[StatusChange], None]


class CaptureWorker:
    """Reads frames of one source in a background thread.

    Example:
        >>> worker = CaptureWorker(SourceConfig(uri="clip.mp4", camera_id="cam1"))
        >>> worker.start()
        >>> while (frame := worker.get(timeout=1.0)) is not None or not worker.finished:
        ...     ...
        >>> worker.stop()
    """

    def __init__(
        self,
        config: SourceConfig,
        on_status: StatusCallback | None = None,
        *,
        resume: CapturePosition | None = None,
    ) -> None:
        """Prepare the worker; nothing is opened until :meth:`start`.

        Args:
            config: The source.
            on_status: Called (from the worker's threads) at each online/offline change.
            resume: Go on from where an earlier worker of the same file stopped.
        """
        self.config = config
        self.kind = source_kind(config.uri)
        self.live = config.live if config.live is not None else self.kind is not SourceKind.FILE
        self.stats = CaptureStats()
        self.error: SourceError | None = None
        self.crashed = False
        """True when the thread ended on an unexpected exception (not a source error)."""
        self.last_status: StatusChange | None = None
        """The latest online/offline change (its reason says why a camera is offline)."""
        self.source_fps = 0.0
        self.frame_count = 0
        self.native_size = (0, 0)
        self._on_status = on_status
        self._queue: queue.Queue[Frame] = queue.Queue(maxsize=config.queue_size)
        self._drop_when_full = self._resolve_policy()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"capture-{config.camera_id}", daemon=True
        )
        self._watchdog = threading.Thread(
            target=self._watch, name=f"watchdog-{config.camera_id}", daemon=True
        )
        self._status_lock = threading.Lock()
        self._last_frame_at = time.monotonic()
        self._online = False
        self._offline_since: float | None = None
        self._ever_delivered = False
        self._index = -1
        self._loop_start = 0
        self._pts_offset = 0.0
        self._last_pts = 0.0
        self._epoch: float | None = None
        self._rate = FrameRateLimiter(config.max_fps)
        self._pace_origin: float | None = None
        self._resume_at = 0
        self._resumed = resume is not None
        if resume is not None and not self.live:
            self._index = resume.next_index - 1
            self._loop_start = resume.loop_start
            self._pts_offset = resume.pts_offset
            self._epoch = resume.epoch
            self._resume_at = resume.next_index - resume.loop_start

    # -- public API -------------------------------------------------------------------------

    def start(self) -> None:
        """Start reading in the background (and, for live sources, the stall watchdog)."""
        self._thread.start()
        if self.live:
            self._watchdog.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the worker to stop and wait for its thread."""
        self._stop.set()
        for thread in (self._thread, self._watchdog):
            if thread.is_alive():
                thread.join(timeout)

    def get(self, timeout: float | None = None) -> Frame | None:
        """Return the next frame, or None if none arrived within ``timeout`` seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    @property
    def finished(self) -> bool:
        """True once the worker has ended (file end, error, stop) and every frame was taken."""
        return self._done.is_set() and self._queue.empty()

    @property
    def online(self) -> bool:
        """Whether the source is currently delivering frames."""
        return self._online

    @property
    def position(self) -> CapturePosition:
        """Where this worker is in its source (meaningful for files)."""
        return CapturePosition(self._index + 1, self._loop_start, self._pts_offset, self._epoch)

    def restarted(self) -> CaptureWorker:
        """A new, unstarted worker for the same source that goes on where this one stopped.

        A file resumes at the frame after the last one read (the frame being read when the
        thread crashed is skipped), keeping its media clock; a live source is reopened.
        """
        return CaptureWorker(self.config, self._on_status, resume=self.position)

    # -- the stall watchdog -----------------------------------------------------------------

    def _watch(self) -> None:
        """Report a live source offline when no frame arrived for ``stall_timeout_s``.

        A blocked FFmpeg read cannot be interrupted from outside; its own read timeout (set to
        the same value) ends it and the reading thread reopens the source. The watchdog makes
        the outage visible at once, even if a backend ignores that timeout.
        """
        timeout = self.config.stall_timeout_s
        while not self._stop.wait(min(1.0, timeout / 2)):
            if self._online and time.monotonic() - self._last_frame_at > timeout:
                self._set_online(False, f"stalled: no frame for {timeout:.0f} s")

    # -- the reading thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._read_until_done()
        except SourceError as exc:
            self.error = exc
            logger.error("camera %s: %s", self.config.camera_id, exc)
        except Exception as exc:  # the thread must end visibly, not silently
            logger.exception("camera %s: capture worker crashed", self.config.camera_id)
            self.crashed = True
            self.error = SourceError(
                f"capture of {self.config.camera_id} crashed: {type(exc).__name__}: {exc}"
            )
        finally:
            self._set_online(False, "capture stopped")
            self._done.set()

    def _read_until_done(self) -> None:
        while not self._stop.is_set():
            capture = self._connect()
            if capture is None:
                return
            reason = self._read_frames(capture)
            capture.release()
            if self._stop.is_set():
                return
            if not self.live:
                self._check_complete()
                if not self.config.loop:
                    return
                self._pts_offset = self._last_pts + self._frame_period()
                self._loop_start = self._index + 1
                continue
            self._set_online(False, reason)
            self.stats.reconnects += 1

    def _connect(self) -> cv2.VideoCapture | None:
        """Open the source, retrying with exponential backoff; None when stopped."""
        delay = self.config.reconnect_initial_s
        attempts = 0
        while not self._stop.is_set():
            attempts += 1
            try:
                capture = open_capture(self.config.uri, self.config.stall_timeout_s)
            except SourceError as exc:
                if not self._may_retry(attempts):
                    raise
                self._set_online(False, f"open failed: {exc}")
                logger.warning(
                    "camera %s: %s; retrying in %.1f s", self.config.camera_id, exc, delay
                )
                self._stop.wait(delay)
                delay = min(delay * 2, self.config.reconnect_max_s)
                continue
            self._read_properties(capture)
            self._seek_to_resume_point(capture)
            return capture
        return None

    def _seek_to_resume_point(self, capture: cv2.VideoCapture) -> None:
        """Skip, once, to the frame of a file where the worker this one replaces stopped."""
        if self._resume_at <= 0:
            return
        capture.set(cv2.CAP_PROP_POS_FRAMES, self._resume_at)
        logger.info("camera %s: resuming at frame %d", self.config.camera_id, self._resume_at)
        self._resume_at = 0

    def _may_retry(self, attempts: int) -> bool:
        if not self.live:
            return False
        limit = self.config.max_open_attempts
        return self._ever_delivered or limit is None or attempts < limit

    def _read_properties(self, capture: cv2.VideoCapture) -> None:
        self.source_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.frame_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        self.native_size = (width, height)

    def _read_frames(self, capture: cv2.VideoCapture) -> str:
        """Read until the source ends or fails; returns the reason."""
        consecutive_errors = 0
        while not self._stop.is_set():
            started = time.perf_counter()
            if not capture.grab():
                return "end of stream" if self.live else "end of file"
            self._index += 1
            timestamp = self._timestamp(capture)
            if not self._rate.keep(timestamp):
                self.stats.frames_skipped += 1
                continue
            ok, image = capture.retrieve()
            self.stats.decode_seconds += time.perf_counter() - started
            if not ok or image is None:
                self.stats.decode_errors += 1
                consecutive_errors += 1
                if consecutive_errors >= MAX_CONSECUTIVE_DECODE_ERRORS:
                    return "decoder errors"
                continue
            consecutive_errors = 0
            self._deliver(image, timestamp)
        return "stopped"

    def _timestamp(self, capture: cv2.VideoCapture) -> float:
        if self.live:
            return time.time()
        period = self._frame_period()
        media = float(capture.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
        in_pass = self._index - self._loop_start  # frames before this one in this pass
        if media <= 0.0 and in_pass > 0:  # a container without timestamps
            media = in_pass * period
        self._last_pts = self._pts_offset + media
        return self._last_pts

    def _frame_period(self) -> float:
        return 1.0 / self.source_fps if self.source_fps > 0 else 1.0 / 25.0

    def _shown_time(self, timestamp: float) -> float:
        """Unix time a frame shows: now for a live source, start + media time for a file."""
        if self.live:
            return timestamp
        if self._epoch is None:
            self._epoch = time.time() - timestamp
        return self._epoch + timestamp

    def _deliver(self, image: np.ndarray[Any, Any], timestamp: float) -> None:
        self._ever_delivered = True
        self._last_frame_at = time.monotonic()
        self._set_online(True, "connected")
        if self.config.realtime and not self.live:
            self._pace(timestamp)
        height, width = image.shape[:2]
        offset = (0, 0)
        if self.config.roi is not None:
            x, y, w, h = self.config.roi
            image, offset = image[y : y + h, x : x + w], (x, y)
        frame = Frame(
            camera_id=self.config.camera_id,
            index=self._index,
            timestamp=timestamp,
            wall_time=self._shown_time(timestamp),
            image=image,
            offset=offset,
            native_size=(width, height),
        )
        self._enqueue(frame)
        self.stats.frames_read += 1

    def _pace(self, timestamp: float) -> None:
        now = time.monotonic()
        if self._pace_origin is None:
            self._pace_origin = now - timestamp
        delay = self._pace_origin + timestamp - now
        if delay > 0:
            self._stop.wait(delay)

    def _enqueue(self, frame: Frame) -> None:
        if not self._drop_when_full:
            while not self._stop.is_set():
                try:
                    self._queue.put(frame, timeout=0.1)
                    return
                except queue.Full:
                    continue
            return
        while True:
            try:
                self._queue.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.stats.frames_dropped += 1
                except queue.Empty:
                    pass

    def _check_complete(self) -> None:
        """Report a file that decoded no frame, or far fewer than it announced."""
        seen = self._index + 1
        nothing = self.stats.frames_read == 0 and self.stats.frames_skipped == 0
        if nothing and not self._resumed:
            raise SourceError(f"no decodable video frame in {self.config.uri}")
        if (
            self._pts_offset == 0.0
            and self.frame_count > 0
            and seen < TRUNCATION_RATIO * self.frame_count
        ):
            raise SourceError(
                f"{self.config.uri} ended after {seen} of {self.frame_count} frames: "
                "the file is truncated or corrupt"
            )

    def _resolve_policy(self) -> bool:
        policy = self.config.queue_policy
        if policy == "auto":
            return self.live or self.config.realtime
        return policy == "drop_oldest"

    def _set_online(self, online: bool, reason: str) -> None:
        with self._status_lock:
            change = self._transition(online, reason)
        if change is None:
            return
        self.last_status = change
        log = logger.info if online or not self.live else logger.warning
        log("camera %s %s (%s)", change.camera_id, "online" if online else "offline", reason)
        if self._on_status is not None:
            self._on_status(change)

    def _transition(self, online: bool, reason: str) -> StatusChange | None:
        if online == self._online and (online or self._offline_since is not None):
            return None
        now = time.time()
        outage = None
        if online and self._offline_since is not None:
            outage = now - self._offline_since
        self._offline_since = None if online else now
        self._online = online
        return StatusChange(self.config.camera_id, online, reason, now, outage)
