"""Turning raw MQTT messages into storable rows or dead letters (never raises)."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from cloud.store.store import Batch, Rejected
from traffic_monitor.contract import (
    MAX_SNAPSHOT_BYTES,
    ContractError,
    ParsedTopic,
    TopicError,
    TopicKind,
    decode_event,
    decode_stats,
    decode_status,
    parse_topic,
)

logger = logging.getLogger(__name__)

_JPEG_MAGIC = b"\xff\xd8\xff"

MAX_CLOCK_AHEAD = timedelta(hours=1)
"""An event dated further than this after its arrival is refused (dead letter): a node whose
clock runs ahead would otherwise hold its alert cards open and sort them above every real
one. One hour absorbs any drift of an NTP-less box over months; an event from the past
(an outbox emptied after an outage) is always accepted."""


def classify(topic: str, payload: bytes, received_at: datetime, batch: Batch) -> str | None:
    """Validate one message and add it to ``batch`` as a row or a dead letter.

    Returns:
        None when accepted, else the refusal reason (also stored as a dead letter).
    """
    try:
        reason = _classify(topic, payload, received_at, batch)
    except (ContractError, TopicError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a hostile payload must never stop the consumer
        logger.exception("unexpected error validating a message on %r", topic[:120])
        reason = f"internal: {type(exc).__name__}: {str(exc)[:200]}"
    if reason is not None:
        batch.rejected.append(Rejected(topic, reason, payload, received_at))
        # one line per refusal, never a traceback: the reason says what was wrong
        logger.info("dead letter on %r: %s", topic[:120], reason[:300])
    return reason


def _classify(topic: str, payload: bytes, received_at: datetime, batch: Batch) -> str | None:
    parsed = parse_topic(topic)
    if parsed.kind is TopicKind.EVENTS:
        return _event(parsed, payload, received_at, batch)
    if parsed.kind is TopicKind.STATUS:
        status = decode_status(payload)
        if (status.site_id, status.node_id) != (parsed.site_id, parsed.node_id):
            return "mismatch: status payload does not match topic"
        batch.statuses.append((status, received_at))
    elif parsed.kind is TopicKind.STATS:
        stats = decode_stats(payload)
        if (stats.site_id, stats.node_id) != (parsed.site_id, parsed.node_id):
            return "mismatch: stats payload does not match topic"
        batch.stats.append((stats, received_at))
    elif parsed.kind is TopicKind.SNAPSHOTS:
        return _snapshot(parsed, payload, received_at, batch)
    else:
        return f"unexpected: {parsed.kind.value} topics are not ingested"
    return None


def _event(parsed: ParsedTopic, payload: bytes, received_at: datetime, batch: Batch) -> str | None:
    event = decode_event(payload)
    actual = (event.site_id, event.node_id, event.camera_id, event.type.value)
    expected = (parsed.site_id, parsed.node_id, parsed.camera_id, parsed.leaf)
    if actual != expected:
        return f"mismatch: payload {'/'.join(actual)} does not match topic"
    if event.time > received_at + MAX_CLOCK_AHEAD:
        return f"time: {event.time.isoformat()} is more than {MAX_CLOCK_AHEAD} after arrival"
    batch.events.append((event, received_at))
    return None


def _snapshot(
    parsed: ParsedTopic, payload: bytes, received_at: datetime, batch: Batch
) -> str | None:
    if len(payload) > MAX_SNAPSHOT_BYTES:
        return f"snapshot: {len(payload)} bytes exceeds {MAX_SNAPSHOT_BYTES}"
    if not payload.startswith(_JPEG_MAGIC):
        return "snapshot: payload is not a JPEG"
    event_id, kind = (parsed.leaf or "/").split("/")
    batch.snapshots.append(
        {
            "event_id": uuid.UUID(event_id),
            "kind": kind,
            "site_id": parsed.site_id,
            "node_id": parsed.node_id,
            "camera_id": parsed.camera_id,
            "received_at": received_at,
            "content": payload,
        }
    )
    return None
