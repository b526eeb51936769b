"""Where a message may come from: a node's own cameras; an image under its stored event.

The broker's ACL already binds each node to its topic prefix and its cameras
(``cloud.ingest.acl``); this is the aggregator's own check, against the camera registry
(``cameras`` table):

- an event for a camera registered to another node (or another site) is a dead letter
  (``camera: …``); a camera seen for the first time, or registered without a node, is bound
  to the node of its first stored event;
- an evidence image is stored only under a stored event of the same site, node and camera
  (``snapshot: …`` otherwise), so one node's image can never become another camera's
  latest snapshot, and images of unknown events are never kept. The node sends an image
  only once the aggregator has confirmed its event (``edge.transport.delivery``), so a
  legitimate image never arrives first.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from cloud.store.cameras import camera_owners
from cloud.store.store import Batch, EventStore, Rejected

logger = logging.getLogger(__name__)


class _Item(Protocol):
    topic: str
    payload: bytes
    received_at: datetime
    refused: bool


ItemT = TypeVar("ItemT", bound=_Item)


@dataclass
class Sorted(Generic[ItemT]):
    """A validated batch and the received messages behind its events and images.

    ``event_items[i]`` is the message of ``batch.events[i]``, ``snapshot_items[i]`` that of
    ``batch.snapshots[i]``.
    """

    batch: Batch
    event_items: list[ItemT] = field(default_factory=list)
    snapshot_items: list[ItemT] = field(default_factory=list)


Owner = tuple[str, str | None]
"""(site, node or None) a camera belongs to."""


class CameraRegistry:
    """Which node each camera belongs to: the ``cameras`` table, read again every ``ttl_s``.

    Args:
        store: The aggregator's store.
        ttl_s: How long a read of the table is used (a camera registered to another node
            takes effect within this delay).
        clock: Monotonic seconds (tests).
    """

    def __init__(
        self, store: EventStore, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._owners: dict[str, Owner] = {}
        self._read_at: float | None = None

    def owner(self, camera_id: str) -> Owner | None:
        """Return (site, node or None) of a registered or bound camera, None if unknown."""
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._ttl_s:
                with self._store.session() as session:
                    self._owners = camera_owners(session)
                self._read_at = now
            return self._owners.get(camera_id)

    def bind(self, camera_id: str, site_id: str, node_id: str) -> None:
        """Remember a binding this process is about to store."""
        with self._lock:
            self._owners[camera_id] = (site_id, node_id)


def check_origins(sorted_: Sorted[ItemT], cameras: CameraRegistry, store: EventStore) -> list[str]:
    """Move the events and images that may not come from their node to the dead letters.

    Returns:
        The reasons of the refusals (one per refused message).
    """
    refusals = _check_cameras(sorted_, cameras)
    refusals += _check_snapshots(sorted_, store)
    return refusals


def _check_cameras(sorted_: Sorted[ItemT], cameras: CameraRegistry) -> list[str]:
    batch = sorted_.batch
    kept_events, kept_items, refusals = [], [], []
    for (event, received_at), item in zip(batch.events, sorted_.event_items, strict=True):
        reason = _camera_refusal(event.camera_id, event.site_id, event.node_id, cameras, batch)
        if reason is None:
            kept_events.append((event, received_at))
            kept_items.append(item)
        else:
            refusals.append(_refuse(batch, item, reason))
    batch.events, sorted_.event_items = kept_events, kept_items
    return refusals


def _camera_refusal(
    camera: str, site: str, node: str, cameras: CameraRegistry, batch: Batch
) -> str | None:
    owner = cameras.owner(camera)
    if owner is not None and owner[0] != site:
        return f"camera: {camera} belongs to site {owner[0]}, not {site}"
    if owner is not None and owner[1] is not None:
        return None if owner[1] == node else f"camera: {camera} belongs to {owner[0]}/{owner[1]}"
    batch.bindings.append((camera, site, node))  # first node seen for this camera
    cameras.bind(camera, site, node)
    logger.info("camera %s bound to node %s/%s (first seen)", camera, site, node)
    return None


def _check_snapshots(sorted_: Sorted[ItemT], store: EventStore) -> list[str]:
    batch = sorted_.batch
    if not batch.snapshots:
        return []
    origins = {ev.event_id: (ev.site_id, ev.node_id, ev.camera_id) for ev, _ in batch.events}
    missing = {s["event_id"] for s in batch.snapshots} - set(origins)
    origins |= store.event_origins(missing)
    kept, kept_items, refusals = [], [], []
    for snapshot, item in zip(batch.snapshots, sorted_.snapshot_items, strict=True):
        reason = _snapshot_refusal(snapshot, origins)
        if reason is None:
            kept.append(snapshot)
            kept_items.append(item)
        else:
            refusals.append(_refuse(batch, item, reason))
    batch.snapshots, sorted_.snapshot_items = kept, kept_items
    return refusals


def _snapshot_refusal(
    snapshot: dict[str, object], origins: dict[uuid.UUID, tuple[str, str, str]]
) -> str | None:
    origin = origins.get(snapshot["event_id"])  # type: ignore[call-overload]
    if origin is None:
        return f"snapshot: no stored event {snapshot['event_id']}"
    claimed = (snapshot["site_id"], snapshot["node_id"], snapshot["camera_id"])
    if claimed != origin:
        return f"snapshot: event {snapshot['event_id']} is of {'/'.join(origin)}"
    return None


def _refuse(batch: Batch, item: _Item, reason: str) -> str:
    batch.rejected.append(Rejected(item.topic, reason, item.payload, item.received_at))
    item.refused = True
    logger.warning("dead letter on %r: %s", item.topic[:120], reason)
    return reason
