"""Where events go: a small interface; JSON lines, memory, or MQTT (``edge.transport``).

The pipeline hands the sink each round's events at once (:meth:`EventSink.write_many`),
every event with the evidence images the evidence stage encoded for it
(:class:`OutgoingEvent`): a sink that keeps events durably keeps their images in the same
transaction, so an event never arrives without the evidence it announces.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from traffic_monitor.contract import Event, SnapshotKind

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EvidenceImage:
    """One encoded evidence image of an event (already blurred when the event says so).

    Attributes:
        kind: Whole-scene snapshot or object crop.
        jpeg: The JPEG bytes.
    """

    kind: SnapshotKind
    jpeg: bytes


@dataclass(frozen=True, slots=True)
class OutgoingEvent:
    """An event on its way out of the box, with its evidence images (possibly none)."""

    event: Event
    images: tuple[EvidenceImage, ...] = ()


class EventSink(Protocol):
    """Receives events from the pipeline; ``close`` flushes what is in flight."""

    def write_many(self, items: Sequence[OutgoingEvent]) -> None:
        """Accept one round's events with their images (one transaction where durable)."""
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...


class JsonLinesSink:
    """Appends one JSON event per line to a file (``-`` for standard output)."""

    def __init__(self, path: Path | str) -> None:
        """Open (append) the file, creating its folder."""
        self.path = str(path)
        self._lock = threading.Lock()
        self._stream: TextIO
        if self.path == "-":
            self._stream = sys.stdout
        else:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._stream = Path(self.path).open("a", encoding="utf-8")  # noqa: SIM115
        self.written = 0

    def write(self, event: Event) -> None:
        """Write one event as a JSON line."""
        self.write_many([OutgoingEvent(event)])

    def write_many(self, items: Sequence[OutgoingEvent]) -> None:
        """Write the events as JSON lines (images are not kept in a JSON-lines file)."""
        lines = "".join(item.event.model_dump_json() + "\n" for item in items)
        with self._lock:
            self._stream.write(lines)
            self._stream.flush()  # a round at a time: readers see it, a crash loses none of it
            self.written += len(items)

    def close(self) -> None:
        """Flush, and close the file."""
        with self._lock:
            self._stream.flush()
            if self._stream is not sys.stdout:
                self._stream.close()
        logger.info("%s events written to %s", self.written, self.path)


class MemorySink:
    """Keeps events, and the images that came with them, in memory (tests, embedding)."""

    def __init__(self) -> None:
        """Start empty."""
        self.events: list[Event] = []
        self.images: dict[str, tuple[EvidenceImage, ...]] = {}
        """Evidence images by event id (events that came with images only)."""
        self.closed = False

    def write(self, event: Event) -> None:
        """Keep the event."""
        self.write_many([OutgoingEvent(event)])

    def write_many(self, items: Sequence[OutgoingEvent]) -> None:
        """Keep the events and their images."""
        for item in items:
            self.events.append(item.event)
            if item.images:
                self.images[str(item.event.event_id)] = item.images

    def close(self) -> None:
        """Mark closed."""
        self.closed = True
