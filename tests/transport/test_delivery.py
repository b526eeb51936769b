"""What waits for the aggregator's confirmation and when it is sent again, on a fake clock."""

from __future__ import annotations

from edge.transport.delivery import DeliveryTracker


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _tracker(max_unconfirmed: int = 100) -> tuple[DeliveryTracker, _Clock]:
    clock = _Clock()
    return DeliveryTracker(10.0, 40.0, max_unconfirmed, clock=clock), clock


def _send(tracker: DeliveryTracker, *seqs: int) -> None:
    for seq in seqs:
        assert tracker.load(seq, None)
        tracker.sent(seq)


def test_unconfirmed_messages_are_sent_again_with_growing_delays():
    tracker, clock = _tracker()
    _send(tracker, 1, 2, 3)
    assert tracker.confirmed([(2, 2)]) == [2]
    clock.now += 9.9
    assert tracker.due(10) == []
    clock.now += 0.2
    assert tracker.due(10) == [1, 3]
    assert tracker.due(10) == []  # taken once
    attempts = [tracker.sent(1), tracker.sent(3)]
    assert attempts == [2, 2]
    clock.now += 10.5
    assert tracker.due(10) == []  # the second delay is 20 s
    clock.now += 10.0
    assert tracker.due(10) == [1, 3]
    for _ in range(5):  # 40, 40, ...: the delay stops doubling at timeout_max_s
        tracker.sent(1)
    clock.now += 40.1
    assert tracker.due(10) == [1]
    assert len(tracker) == 2


def test_due_respects_the_window():
    tracker, clock = _tracker()
    _send(tracker, *range(1, 11))
    clock.now += 11
    assert tracker.due(4) == [1, 2, 3, 4]
    assert tracker.due(100) == [5, 6, 7, 8, 9, 10]


def test_an_image_waits_until_its_event_is_stored():
    tracker, clock = _tracker()
    _send(tracker, 1)
    assert not tracker.load(2, parent=1)  # held: its event is not confirmed yet
    assert not tracker.load(3, parent=1)
    clock.now += 11
    assert tracker.due(10) == [1]  # only the event is resent, never the held images
    tracker.sent(1)
    assert tracker.confirmed([(1, 1)]) == [1]
    assert tracker.due(10) == [2, 3]  # released at once, before any timer
    assert tracker.load(4, parent=1)  # its event is already stored: no wait


def test_images_of_a_refused_event_are_dropped_with_it():
    tracker, _ = _tracker()
    _send(tracker, 1)
    tracker.load(2, parent=1)
    tracker.load(3, parent=1)
    assert sorted(tracker.refused([1])) == [1, 2, 3]
    assert len(tracker) == 0 and tracker.due(10) == []


def test_room_bounds_what_is_loaded():
    tracker, _ = _tracker(max_unconfirmed=3)
    _send(tracker, 1, 2)
    assert tracker.room == 1
    _send(tracker, 3)
    assert tracker.room == 0
    tracker.confirmed([(1, 3)])
    assert tracker.room == 3


def test_wide_and_unknown_ranges_confirm_only_what_waits():
    tracker, _ = _tracker()
    _send(tracker, 5, 7, 9)
    assert sorted(tracker.confirmed([(0, 2**62)])) == [5, 7, 9]
    assert tracker.confirmed([(1, 3)]) == []


def test_the_first_confirmation_after_a_quiet_spell_cuts_long_delays():
    tracker, clock = _tracker()
    _send(tracker, 1, 2)
    for _ in range(3):
        tracker.sent(1)  # its delay is now 40 s
    clock.now += 30  # quiet: nothing confirmed for longer than timeout_s
    tracker.confirmed([(2, 2)])  # the aggregator is back
    clock.now += 10.1
    assert tracker.due(10) == [1]  # within timeout_s, not 40 s


def test_timers_of_confirmed_messages_do_not_pile_up():
    tracker, _ = _tracker(max_unconfirmed=10)
    for seq in range(1, 20_001):
        _send(tracker, seq)
        tracker.confirmed([(seq, seq)])
    assert len(tracker._timers) <= 1024 + 4
