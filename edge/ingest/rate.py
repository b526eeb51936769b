"""Which frames a camera processed at ``max_fps`` keeps: one rule for ``edge run`` and replays."""

from __future__ import annotations

_TOLERANCE_S = 0.002
"""A frame this much early still counts as due (timestamps rounded by the container)."""


class FrameRateLimiter:
    """Keeps frames at most ``max_fps`` apart in media time; the rest are skipped.

    The kept frames are as evenly spaced as the source allows: a 25 fps camera limited to
    10 fps keeps two frames of every five, a 30 fps camera limited to 10 keeps one in three.
    A gap in the source (a stall) does not cause a burst afterwards.

    Args:
        max_fps: Highest processed rate; None keeps every frame.
    """

    def __init__(self, max_fps: float | None) -> None:
        if max_fps is not None and max_fps <= 0:
            raise ValueError(f"max_fps must be positive, got {max_fps}")
        self.max_fps = max_fps
        self._next_due = 0.0

    @classmethod
    def every(cls, interval_s: float) -> FrameRateLimiter:
        """A limiter keeping frames at least ``interval_s`` apart (0: every frame)."""
        return cls(1.0 / interval_s if interval_s > 0 else None)

    def keep(self, timestamp: float) -> bool:
        """Whether the frame at ``timestamp`` (media seconds, increasing) is processed."""
        if self.max_fps is None:
            return True
        if timestamp < self._next_due - _TOLERANCE_S:
            return False
        period = 1.0 / self.max_fps
        self._next_due = max(self._next_due + period, timestamp + period / 2)
        return True
