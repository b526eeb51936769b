"""The durable outbox: images in the event's transaction, the full policy, the layout upgrade."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.transport.outbox import Outbox, OutboxFullError, Pending, Priority


def _event(name: str, priority: Priority = Priority.ALERT) -> Pending:
    return Pending(f"t/events/{name}", name.encode(), priority)


def _image(name: str, follows: int) -> Pending:
    return Pending(
        f"t/snapshots/{name}", b"\xff\xd8\xff" + name.encode(), Priority.EVIDENCE, follows=follows
    )


def test_images_are_stored_with_their_event_and_name_it(tmp_path: Path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    seqs = outbox.put_many([_event("a"), _image("a1", 0), _image("a2", 0), _event("b")])
    assert all(seq is not None for seq in seqs)
    rows = outbox.after(0, 10)
    assert [r.parent for r in rows] == [None, seqs[0], seqs[0], None]
    assert [r.priority for r in rows] == [
        Priority.ALERT,
        Priority.EVIDENCE,
        Priority.EVIDENCE,
        Priority.ALERT,
    ]
    first, second = seqs[0], seqs[2]
    assert first is not None and second is not None
    assert [r.seq for r in outbox.get([second, first, 999])] == [first, second]
    outbox.close()


def test_a_refused_event_takes_its_images_with_it(tmp_path: Path):
    outbox = Outbox(tmp_path / "o.sqlite3", max_messages=2)
    outbox.put_many([_event("a"), _event("b")])
    with pytest.raises(OutboxFullError):
        outbox.put_many([_event("c"), _image("c1", 0)])
    assert len(outbox) == 2 and outbox.refused == 1 and outbox.dropped == 0
    outbox.close()


def test_images_go_before_any_event_and_are_dropped_rather_than_refused(tmp_path: Path):
    outbox = Outbox(tmp_path / "o.sqlite3", max_messages=4)
    outbox.put("t/stats", b"{}", Priority.STATS)
    outbox.put_many([_event("r", Priority.ROUTINE), _image("r1", 0), _image("r2", 0)])  # full
    outbox.put_many([_event("a")])  # evicts the stats row
    outbox.put_many([_event("b")])  # evicts an image, not the routine event
    assert [r.topic for r in outbox.after(0, 10)] == [
        "t/events/r",
        "t/snapshots/r2",
        "t/events/a",
        "t/events/b",
    ]
    seqs = outbox.put_many([_event("c"), _image("c1", 0)])  # the last image goes for c ...
    assert seqs[1] is None  # ... and c's own image finds no room: dropped, c is stored
    assert outbox.dropped == 4 and outbox.refused == 0  # stats, r1, r2, c1
    assert [r.topic for r in outbox.after(0, 10)][-1] == "t/events/c"
    outbox.put_many([_event("d")])  # then the routine event, never an alert
    assert "t/events/r" not in [r.topic for r in outbox.after(0, 10)]
    outbox.close()


def test_confirm_and_drop_are_counted_apart(tmp_path: Path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    a, b, c = outbox.put_many([_event("a"), _event("b"), _event("c")])
    assert a is not None and b is not None and c is not None
    assert outbox.confirm([a, b, 999]) == 2
    assert outbox.drop([c]) == 1
    metrics = outbox.metrics()
    assert (metrics.queued, metrics.sent, metrics.dropped) == (0, 2, 1)
    outbox.close()


def test_the_outbox_id_survives_a_restart_and_seqs_are_never_reused(tmp_path: Path):
    path = tmp_path / "o.sqlite3"
    first = Outbox(path)
    seq = first.put("t/x", b"1", Priority.ALERT)
    first.confirm([seq])
    outbox_id = first.outbox_id
    first.close()
    second = Outbox(path)
    assert second.outbox_id == outbox_id and len(outbox_id) == 32
    assert second.put("t/y", b"2", Priority.ALERT) > seq  # acks of old seqs can never hit it
    second.close()
    assert Outbox(tmp_path / "other.sqlite3").outbox_id != outbox_id


def test_an_outbox_of_the_first_layout_is_upgraded(tmp_path: Path):
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, "
        "payload BLOB NOT NULL, priority INTEGER NOT NULL, retain INTEGER NOT NULL DEFAULT 0, "
        "created REAL NOT NULL);"
        "INSERT INTO outbox (topic, payload, priority, created) VALUES ('s', x'00', 0, 1), "
        "('r', x'00', 1, 1), ('a', x'00', 2, 1);"
    )
    db.commit()
    db.close()
    outbox = Outbox(path)
    rows = outbox.after(0, 10)
    assert [(r.topic, r.priority, r.parent) for r in rows] == [
        ("s", Priority.STATS, None),
        ("r", Priority.ROUTINE, None),
        ("a", Priority.ALERT, None),
    ]
    outbox.close()
