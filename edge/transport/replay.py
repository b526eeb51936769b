"""Replay of the messages sent around a reconnect: a guard against a restarted broker.

Mosquitto 2.0 restores sessions and their normal subscriptions from its persistence file
after a restart, but not shared subscriptions (``$share/…``, what the aggregators use). Until
each aggregator has reconnected and subscribed again, the broker acknowledges a node's
messages (PUBACK, so the outbox deletes them) and drops them: nobody subscribes. A broker
killed outright also loses what it had acknowledged but not yet delivered or saved.

So a node keeps the messages it sent during the last ``window_s`` seconds in memory, and
``window_s`` seconds after every *re*connect it publishes once more those sent from
``window_s`` before the disconnect to ``window_s`` after the reconnect. The store drops the
duplicates by event id. Not durable (a crash of the node in that window leaves it to the
outbox, which still holds whatever was not acknowledged), bounded by ``max_messages``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

Replayed = tuple[str, bytes, bool]
"""A message to publish again: topic, payload, retain."""


class ReplayBuffer:
    """Recently sent messages and when to publish them again.

    ``record`` and ``due`` run on the sender thread; ``disconnected`` and ``reconnected``
    on paho's network thread (they only set two numbers).

    Args:
        window_s: How long before a disconnect and after a reconnect messages are replayed;
            0 turns replay off. Should be at least the aggregators' longest reconnect delay.
        max_messages: Most messages kept (the oldest go first).
        clock: Monotonic seconds (tests).
    """

    def __init__(
        self,
        window_s: float,
        max_messages: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self._clock = clock
        self._sent: deque[tuple[float, Replayed]] = deque(maxlen=max_messages)
        self._connected_before = False
        self._disconnected_at: float | None = None
        self._replay_at: float | None = None

    def record(self, topic: str, payload: bytes, retain: bool) -> None:
        """Remember a message just sent."""
        if self.window_s <= 0:
            return
        now = self._clock()
        self._sent.append((now, (topic, payload, retain)))
        self._prune(now)

    def disconnected(self) -> None:
        """Note the connection loss (the earliest one, if several precede a replay)."""
        if self._disconnected_at is None:
            self._disconnected_at = self._clock()

    def reconnected(self) -> None:
        """Schedule a replay ``window_s`` from now, unless this is the first connection."""
        if self._connected_before and self.window_s > 0:
            self._replay_at = self._clock() + self.window_s
        else:
            self._disconnected_at = None
        self._connected_before = True

    def due(self) -> list[Replayed]:
        """Return the messages to publish again when a replay is due, else nothing."""
        now = self._clock()
        if self._replay_at is None or now < self._replay_at:
            return []
        since = self._since(now)
        messages = [message for sent, message in self._sent if sent >= since]
        self._replay_at = self._disconnected_at = None
        self._prune(now)
        return messages

    def _prune(self, now: float) -> None:
        horizon = self._since(now)
        while self._sent and self._sent[0][0] < horizon:
            self._sent.popleft()

    def _since(self, now: float) -> float:
        # While disconnected or a replay is pending, keep what was sent before the loss.
        start = now if self._disconnected_at is None else self._disconnected_at
        return start - self.window_s
