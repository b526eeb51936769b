"""Traffic-signal state for the red-light rule: from the image, from outside, or a fixed plan.

``ExternalSignalStates`` is the interface the MQTT side feeds (``set(signal_id, state)``
from its message callback; thread-safe). ``ColourSignal`` classifies a configured signal-head
region by colour each frame. ``ScheduleSignal`` follows a fixed-time plan.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Protocol

import cv2
import numpy as np

from edge.scene import Signal, SignalSchedule, SignalSource

logger = logging.getLogger(__name__)


class SignalState(StrEnum):
    """State of a signal head."""

    RED = "red"
    AMBER = "amber"
    GREEN = "green"
    UNKNOWN = "unknown"


class SignalStateSource(Protocol):
    """Anything that can tell a signal's state at a frame."""

    def state(self, timestamp: float) -> SignalState:
        """State at the frame with this timestamp."""
        ...


class ExternalSignalStates:
    """Signal states pushed from outside (e.g. an MQTT topic from the signal controller).

    States older than their signal's ``stale_after_s`` read as ``UNKNOWN``: no violation is
    raised on a state nobody has confirmed lately.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Create an empty table; ``clock`` measures staleness (monotonic seconds)."""
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, tuple[SignalState, float]] = {}

    def set(self, signal_id: str, state: SignalState | str) -> None:
        """Record the latest state of a signal (call from any thread)."""
        value = SignalState(state)
        with self._lock:
            self._states[signal_id] = (value, self._clock())
        logger.debug("signal %s is %s", signal_id, value)

    def get(self, signal_id: str, stale_after_s: float) -> SignalState:
        """Latest state, or ``UNKNOWN`` when never set or stale."""
        with self._lock:
            entry = self._states.get(signal_id)
        if entry is None or self._clock() - entry[1] > stale_after_s:
            return SignalState.UNKNOWN
        return entry[0]


class _ExternalSignal:
    def __init__(self, signal: Signal, table: ExternalSignalStates) -> None:
        self.signal = signal
        self.table = table

    def state(self, timestamp: float) -> SignalState:
        del timestamp
        return self.table.get(self.signal.id, self.signal.stale_after_s)


class ScheduleSignal:
    """A fixed-time plan: red for ``red_s`` from ``red_start_s`` in each cycle, amber before."""

    def __init__(self, schedule: SignalSchedule) -> None:
        """Keep the plan."""
        self.schedule = schedule

    def state(self, timestamp: float) -> SignalState:
        """State at a timestamp of the plan's clock."""
        plan = self.schedule
        phase = (timestamp - plan.origin_s - plan.red_start_s) % plan.cycle_s
        if phase < plan.red_s:
            return SignalState.RED
        if phase >= plan.cycle_s - plan.amber_s:
            return SignalState.AMBER
        return SignalState.GREEN


# Hue ranges on OpenCV's 0-179 scale.
_HUES: dict[SignalState, tuple[tuple[int, int], ...]] = {
    SignalState.RED: ((0, 10), (165, 180)),
    SignalState.AMBER: ((11, 34),),
    SignalState.GREEN: ((40, 100),),
}


def classify_signal_colour(
    region: np.ndarray[Any, Any], min_fraction: float = 0.03, min_value: int = 150
) -> SignalState:
    """Classify a cropped signal head by its lit colour.

    A lamp is a bright, saturated blob; the colour with most such pixels wins when they cover
    at least ``min_fraction`` of the region. Dark or washed-out heads give ``UNKNOWN``.
    """
    if region.size == 0:
        return SignalState.UNKNOWN
    hsv = cv2.cvtColor(region, cv2.COLOR_BGR2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    lit = (sat >= 90) & (val >= min_value)
    counts = {
        state: int(sum(np.count_nonzero(lit & (hue >= lo) & (hue < hi)) for lo, hi in ranges))
        for state, ranges in _HUES.items()
    }
    best = max(counts, key=lambda s: counts[s])
    if counts[best] < min_fraction * hue.size:
        return SignalState.UNKNOWN
    return best


class ColourSignal:
    """A signal read from a frame region; a change needs ``confirm_frames`` agreeing frames."""

    def __init__(self, signal: Signal, confirm_frames: int = 2) -> None:
        """Prepare for a signal with a configured ``region``."""
        if signal.region is None:
            raise ValueError(f"signal {signal.id!r} has no region")
        self.signal = signal
        self.region = signal.region
        self.confirm_frames = confirm_frames
        self._state = SignalState.UNKNOWN
        self._candidate = SignalState.UNKNOWN
        self._seen = 0

    def observe(self, image: np.ndarray[Any, Any]) -> SignalState:
        """Classify the region in a new frame and return the debounced state."""
        x, y, w, h = self.region
        current = classify_signal_colour(image[y : y + h, x : x + w])
        if current == self._candidate:
            self._seen += 1
        else:
            self._candidate, self._seen = current, 1
        if self._seen >= self.confirm_frames:
            self._state = current
        return self._state

    def state(self, timestamp: float) -> SignalState:
        """The state from the latest observed frame."""
        del timestamp
        return self._state


class SignalBoard:
    """All signals of a camera, built from the scene config."""

    def __init__(self, signals: list[Signal], external: ExternalSignalStates | None = None) -> None:
        """Build one state source per configured signal."""
        self.external = external or ExternalSignalStates()
        self.colour: dict[str, ColourSignal] = {}
        self.sources: dict[str, SignalStateSource] = {}
        for signal in signals:
            if signal.source == SignalSource.COLOUR:
                self.colour[signal.id] = ColourSignal(signal)
                self.sources[signal.id] = self.colour[signal.id]
            elif signal.source == SignalSource.SCHEDULE and signal.schedule is not None:
                self.sources[signal.id] = ScheduleSignal(signal.schedule)
            else:
                self.sources[signal.id] = _ExternalSignal(signal, self.external)

    def observe(self, image: np.ndarray[Any, Any] | None) -> None:
        """Classify colour-read signals in a new frame."""
        if image is None:
            return
        for signal in self.colour.values():
            signal.observe(image)

    def state(self, signal_id: str, timestamp: float) -> SignalState:
        """State of a signal at a frame (``UNKNOWN`` for an unknown id)."""
        source = self.sources.get(signal_id)
        return SignalState.UNKNOWN if source is None else source.state(timestamp)

    def states(self, timestamp: float) -> Mapping[str, SignalState]:
        """Every signal's state at a frame."""
        return {signal_id: self.state(signal_id, timestamp) for signal_id in self.sources}
