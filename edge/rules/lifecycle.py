"""Lasting events: start, periodic update, end, linked by an ``incident_id`` attribute."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field

from traffic_monitor.contract import Event, EventPhase


@dataclass
class _Open:
    incident_id: str
    started: float
    last_emit: float
    peak: dict[str, float] = field(default_factory=dict)


class Lifecycle:
    """Tracks open incidents of one rule by key (e.g. track id, zone name).

    Each incident emits one ``start``, ``update`` events no more often than
    ``update_interval_s`` (or on demand), and one ``end``. All events of an incident carry
    the same ``attributes["incident_id"]`` and ``measurements["duration_s"]``.
    """

    def __init__(self, update_interval_s: float = 10.0) -> None:
        """Create an empty table; ``update_interval_s`` limits periodic updates."""
        self.update_interval_s = update_interval_s
        self._open: dict[Hashable, _Open] = {}

    def __contains__(self, key: Hashable) -> bool:
        return key in self._open

    def __len__(self) -> int:
        return len(self._open)

    def open_keys(self) -> Iterator[Hashable]:
        """Keys of open incidents (a snapshot, safe to end while iterating)."""
        return iter(list(self._open))

    def start(self, key: Hashable, timestamp: float, event: Event) -> Event:
        """Open an incident and return its ``start`` event."""
        incident = _Open(str(uuid.uuid4()), timestamp, timestamp)
        self._open[key] = incident
        return self._stamp(event, incident, EventPhase.START, timestamp)

    def due(self, key: Hashable, timestamp: float) -> bool:
        """Whether :meth:`update` would return an event at ``timestamp`` (without ``force``)."""
        return timestamp - self._open[key].last_emit >= self.update_interval_s

    def update(
        self, key: Hashable, timestamp: float, event: Event, force: bool = False
    ) -> Event | None:
        """Return an ``update`` event when the interval has passed (or ``force``), else None."""
        if not force and not self.due(key, timestamp):
            return None
        incident = self._open[key]
        incident.last_emit = timestamp
        return self._stamp(event, incident, EventPhase.UPDATE, timestamp)

    def end(self, key: Hashable, timestamp: float, event: Event) -> Event:
        """Close an incident and return its ``end`` event."""
        incident = self._open.pop(key)
        return self._stamp(event, incident, EventPhase.END, timestamp)

    def duration(self, key: Hashable, timestamp: float) -> float:
        """Seconds since the incident started."""
        return timestamp - self._open[key].started

    @staticmethod
    def _stamp(event: Event, incident: _Open, phase: EventPhase, timestamp: float) -> Event:
        duration = round(timestamp - incident.started, 3)
        measurements = event.measurements.model_copy(update={"duration_s": duration})
        attributes = event.attributes.model_copy(update={"incident_id": incident.incident_id})
        return event.model_copy(
            update={"phase": phase, "measurements": measurements, "attributes": attributes}
        )
