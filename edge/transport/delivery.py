"""Which outbox messages wait for the aggregator, and when to send them again.

The broker's PUBACK does not delete a message (a restarted broker acknowledges and drops
what arrives before the aggregators subscribe again): the message stays in the outbox until
the aggregator's end-to-end acknowledgement names it (``traffic_monitor.contract.acks``).
This class keeps, for the messages loaded from the outbox and not yet confirmed:

- when each was sent and how often: one still unconfirmed ``timeout_s`` after a send is
  sent again, the delay doubling with each attempt up to ``timeout_max_s`` (bounded resend:
  an aggregator away for an hour does not make the node flood the broker). When a
  confirmation arrives after a quiet spell longer than ``timeout_s`` (the aggregator is
  back), the long delays are cut back to ``timeout_s``;
- which message waits for which: an evidence image is sent only once its event is
  confirmed, so the aggregator never sees an image before its event. An image whose event
  is refused or gone is dropped with it.

Pure bookkeeping (no I/O), driven by the publisher's sender thread; the clock is injectable.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(slots=True)
class _Waiting:
    parent: int | None
    deadline: float | None = None
    attempts: int = 0


class DeliveryTracker:
    """Unconfirmed messages, their resend deadlines and the images held for their event.

    Args:
        timeout_s: Delay before a message still unconfirmed is sent again (first attempt).
        timeout_max_s: Longest delay between two attempts (the delay doubles until then).
        max_unconfirmed: Most messages loaded and not yet confirmed (bounds memory and the
            duplicates a resend round can make).
        clock: Monotonic seconds (tests).
    """

    def __init__(
        self,
        timeout_s: float,
        timeout_max_s: float,
        max_unconfirmed: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout_s = timeout_s
        self.timeout_max_s = max(timeout_max_s, timeout_s)
        self.max_unconfirmed = max_unconfirmed
        self._clock = clock
        self._waiting: dict[int, _Waiting] = {}
        self._children: dict[int, list[int]] = {}
        self._ready: deque[int] = deque()
        self._timers: list[tuple[float, int]] = []
        self._last_confirmed = clock()

    def __len__(self) -> int:
        return len(self._waiting)

    def __contains__(self, seq: object) -> bool:
        return seq in self._waiting

    @property
    def room(self) -> int:
        """How many more messages may be loaded from the outbox."""
        return max(0, self.max_unconfirmed - len(self._waiting))

    def load(self, seq: int, parent: int | None) -> bool:
        """Register a message read from the outbox; True when it may be sent now.

        A message whose ``parent`` is still unconfirmed waits for it; one whose parent is no
        longer waiting (stored earlier, or before a restart) may go at once.
        """
        held = parent is not None and parent in self._waiting
        self._waiting[seq] = _Waiting(parent if held else None)
        if held:
            assert parent is not None
            self._children.setdefault(parent, []).append(seq)
        return not held

    def sent(self, seq: int) -> int:
        """Note that ``seq`` was published; returns its attempt number (1 = first)."""
        waiting = self._waiting.get(seq)
        if waiting is None:
            return 0
        waiting.attempts += 1
        delay = min(self.timeout_s * 2 ** (waiting.attempts - 1), self.timeout_max_s)
        waiting.deadline = self._clock() + delay
        heapq.heappush(self._timers, (waiting.deadline, seq))
        if len(self._timers) > 4 * len(self._waiting) + 1024:
            self._compact_timers()
        return waiting.attempts

    def _compact_timers(self) -> None:
        """Drop the timers of confirmed messages (kept lazily): memory stays O(waiting)."""
        self._timers = [
            (w.deadline, seq) for seq, w in self._waiting.items() if w.deadline is not None
        ]
        heapq.heapify(self._timers)

    def due(self, limit: int) -> list[int]:
        """Up to ``limit`` messages to send now: released images, then overdue ones."""
        out: list[int] = []
        while self._ready and len(out) < limit:
            seq = self._ready.popleft()
            if seq in self._waiting:
                out.append(seq)
        now = self._clock()
        while self._timers and len(out) < limit and self._timers[0][0] <= now:
            deadline, seq = heapq.heappop(self._timers)
            waiting = self._waiting.get(seq)
            if waiting is not None and waiting.deadline == deadline:
                waiting.deadline = None
                out.append(seq)
        return out

    def confirmed(self, ranges: Iterable[tuple[int, int]]) -> list[int]:
        """Forget the confirmed messages; returns those that were waiting. Releases images."""
        now = self._clock()
        if now - self._last_confirmed > self.timeout_s:
            self._cut_delays(now)
        self._last_confirmed = now
        done = self._in_ranges(ranges)
        for seq in done:
            self._waiting.pop(seq, None)
            self._ready.extend(self._children.pop(seq, ()))
        return done

    def refused(self, seqs: Iterable[int]) -> list[int]:
        """Forget refused or vanished messages and the images held for them; returns all of them."""
        out: list[int] = []
        stack = [seq for seq in seqs if seq in self._waiting]
        while stack:
            seq = stack.pop()
            waiting = self._waiting.pop(seq, None)
            if waiting is None:
                continue
            out.append(seq)
            stack.extend(self._children.pop(seq, ()))
        return out

    def _in_ranges(self, ranges: Iterable[tuple[int, int]]) -> list[int]:
        found: list[int] = []
        for first, last in ranges:
            if last - first < len(self._waiting):
                found += [s for s in range(first, last + 1) if s in self._waiting]
            else:  # a wide range: look the other way round
                found += [s for s in self._waiting if first <= s <= last]
        return found

    def _cut_delays(self, now: float) -> None:
        """After a quiet spell the aggregator is back: resend within ``timeout_s`` at most."""
        soon = now + self.timeout_s
        for seq, waiting in self._waiting.items():
            if waiting.deadline is not None and waiting.deadline > soon:
                waiting.deadline = soon
                heapq.heappush(self._timers, (soon, seq))
