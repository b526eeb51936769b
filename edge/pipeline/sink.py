"""Where events go: a small interface; JSON lines now, MQTT plugs in later."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import Protocol, TextIO

from traffic_monitor.contract import Event

logger = logging.getLogger(__name__)


class EventSink(Protocol):
    """Receives events from the pipeline; ``close`` flushes what is in flight."""

    def write(self, event: Event) -> None:
        """Accept one event."""
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
        line = event.model_dump_json()
        with self._lock:
            self._stream.write(line + "\n")
            self.written += 1

    def close(self) -> None:
        """Flush, and close the file."""
        with self._lock:
            self._stream.flush()
            if self._stream is not sys.stdout:
                self._stream.close()
        logger.info("%s events written to %s", self.written, self.path)


class MemorySink:
    """Keeps events in a list (tests, embedding)."""

    def __init__(self) -> None:
        """Start empty."""
        self.events: list[Event] = []
        self.closed = False

    def write(self, event: Event) -> None:
        """Keep the event."""
        self.events.append(event)

    def close(self) -> None:
        """Mark closed."""
        self.closed = True
