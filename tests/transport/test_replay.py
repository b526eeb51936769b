"""The replay around reconnects (``edge.transport.replay``), on a fake clock."""

from __future__ import annotations

from edge.transport.replay import ReplayBuffer


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _buffer(window_s: float = 10.0, max_messages: int = 100) -> tuple[ReplayBuffer, _Clock]:
    clock = _Clock()
    return ReplayBuffer(window_s, max_messages, clock=clock), clock


def _send(buffer: ReplayBuffer, clock: _Clock, name: str, at: float) -> None:
    clock.now = at
    buffer.record(f"t/{name}", name.encode(), False)


def test_replays_around_the_outage_once():
    buffer, clock = _buffer()
    buffer.reconnected()  # the first connection schedules nothing
    for name, at in (("old", 100.0), ("before", 115.0), ("last", 119.0)):
        _send(buffer, clock, name, at)
    clock.now = 120.0
    buffer.disconnected()
    clock.now = 200.0  # an outage longer than the window keeps what preceded it
    buffer.reconnected()
    _send(buffer, clock, "after", 201.0)
    clock.now = 209.0
    assert buffer.due() == []  # not yet: the aggregators may still be reconnecting
    clock.now = 210.0
    assert [topic for topic, _, _ in buffer.due()] == ["t/before", "t/last", "t/after"]
    assert buffer.due() == []  # once


def test_first_connection_and_disabled_buffer_replay_nothing():
    buffer, clock = _buffer()
    buffer.disconnected()  # a failed first attempt
    buffer.reconnected()
    _send(buffer, clock, "a", 101.0)
    clock.now = 200.0
    assert buffer.due() == []
    off, clock = _buffer(window_s=0)
    off.reconnected()
    _send(off, clock, "a", 101.0)
    off.disconnected()
    off.reconnected()
    clock.now = 500.0
    assert off.due() == []


def test_bounded_by_max_messages():
    buffer, clock = _buffer(max_messages=3)
    buffer.reconnected()
    for i in range(10):
        _send(buffer, clock, str(i), 100.0 + i / 10)
    buffer.disconnected()
    buffer.reconnected()
    clock.now += 10
    assert [topic for topic, _, _ in buffer.due()] == ["t/7", "t/8", "t/9"]
