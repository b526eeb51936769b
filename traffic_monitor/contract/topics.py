"""MQTT topic layout of the contract, version 1.

Every topic starts with ``traffic/v1/{site}/{node}``: the broker's ACLs give each edge node
write access to its own prefix only, so the site and node of a message are authenticated by
the topic it arrived on (the consumer checks that the payload agrees).

=============================================================  =======  =====  ==========
Topic                                                          QoS      Ret.   Payload
=============================================================  =======  =====  ==========
``traffic/v1/{site}/{node}/events/{camera}/{type}``            1        no     Event JSON
``traffic/v1/{site}/{node}/snapshots/{camera}/{event_id}/{kind}`` 1     no     JPEG bytes
``traffic/v1/{site}/{node}/status``                            1        yes    NodeStatus
``traffic/v1/{site}/{node}/stats``                             1        no     NodeStats
``traffic/v1/{site}/{node}/commands/{name}``                   1        no     JSON (in)
``traffic/v1/{site}/{node}/acks``                              1        no     DeliveryAck (in)
=============================================================  =======  =====  ==========
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum

from traffic_monitor.contract.events import SEGMENT_PATTERN

ROOT = "traffic/v1"
_SEGMENT = re.compile(SEGMENT_PATTERN)


class TopicKind(StrEnum):
    """What a topic carries (its fifth level)."""

    EVENTS = "events"
    SNAPSHOTS = "snapshots"
    STATUS = "status"
    STATS = "stats"
    COMMANDS = "commands"
    ACKS = "acks"


class SnapshotKind(StrEnum):
    """Which evidence image a snapshot topic carries."""

    SNAPSHOT = "snapshot"
    CROP = "crop"


class TopicError(ValueError):
    """A topic that does not follow the layout; the message says why."""


@dataclass(frozen=True)
class ParsedTopic:
    """The parts of a contract topic.

    Attributes:
        kind: What the topic carries.
        site_id: Site segment.
        node_id: Node segment.
        camera_id: Camera segment (events and snapshots only).
        leaf: Event type, ``{event_id}/{kind}`` of a snapshot, or the command name.
    """

    kind: TopicKind
    site_id: str
    node_id: str
    camera_id: str | None = None
    leaf: str | None = None


def check_segment(value: str, what: str) -> str:
    """Return ``value`` if it is a valid topic segment, else raise :class:`TopicError`."""
    if not _SEGMENT.fullmatch(value):
        raise TopicError(f"{what} {value[:80]!r} is not a valid topic segment ({SEGMENT_PATTERN})")
    return value


def node_prefix(site_id: str, node_id: str) -> str:
    """Return ``traffic/v1/{site}/{node}``, the prefix a node may publish under."""
    return f"{ROOT}/{check_segment(site_id, 'site')}/{check_segment(node_id, 'node')}"


def event_topic(site_id: str, node_id: str, camera_id: str, event_type: str) -> str:
    """Return the topic of one event."""
    camera = check_segment(camera_id, "camera")
    return f"{node_prefix(site_id, node_id)}/events/{camera}/{check_segment(event_type, 'type')}"


def snapshot_topic(
    site_id: str, node_id: str, camera_id: str, event_id: uuid.UUID, kind: SnapshotKind
) -> str:
    """Return the topic of an evidence image of one event."""
    camera = check_segment(camera_id, "camera")
    return f"{node_prefix(site_id, node_id)}/snapshots/{camera}/{event_id}/{kind.value}"


def status_topic(site_id: str, node_id: str) -> str:
    """Return the retained birth/death status topic of a node."""
    return f"{node_prefix(site_id, node_id)}/status"


def stats_topic(site_id: str, node_id: str) -> str:
    """Return the periodic statistics topic of a node."""
    return f"{node_prefix(site_id, node_id)}/stats"


def command_topic(site_id: str, node_id: str, name: str) -> str:
    """Return the inbound command topic of a node (config reload, signal states)."""
    return f"{node_prefix(site_id, node_id)}/commands/{check_segment(name, 'command')}"


def ack_topic(site_id: str, node_id: str) -> str:
    """Return the inbound topic of a node's end-to-end delivery acknowledgements."""
    return f"{node_prefix(site_id, node_id)}/acks"


def subscription_filters(share_group: str | None = None) -> list[str]:
    """Return the topic filters an aggregator subscribes to.

    Args:
        share_group: MQTT v5 shared-subscription group; aggregators in one group split the
            messages between them. ``None`` subscribes normally.
    """
    filters = [
        f"{ROOT}/+/+/events/+/+",
        f"{ROOT}/+/+/snapshots/+/+/+",
        f"{ROOT}/+/+/status",
        f"{ROOT}/+/+/stats",
    ]
    if share_group is None:
        return filters
    return [f"$share/{check_segment(share_group, 'share group')}/{f}" for f in filters]


_SHAPES = {
    TopicKind.EVENTS: 7,
    TopicKind.SNAPSHOTS: 8,
    TopicKind.STATUS: 5,
    TopicKind.STATS: 5,
    TopicKind.COMMANDS: 6,
    TopicKind.ACKS: 5,
}


@functools.lru_cache(maxsize=4096)
def parse_topic(topic: str) -> ParsedTopic:
    """Split a contract topic into its parts (cached: a deployment has few distinct topics).

    Raises:
        TopicError: The topic does not follow the layout; the message says why.
    """
    parts = topic.split("/")
    if len(parts) < 5 or "/".join(parts[:2]) != ROOT:
        raise TopicError(f"topic {topic[:120]!r} is not under {ROOT}/{{site}}/{{node}}/")
    try:
        kind = TopicKind(parts[4])
    except ValueError:
        raise TopicError(f"unknown topic kind {parts[4][:40]!r}") from None
    if len(parts) != _SHAPES[kind]:
        raise TopicError(f"{kind.value} topic must have {_SHAPES[kind]} levels, got {len(parts)}")
    for index, what in ((2, "site"), (3, "node")):
        check_segment(parts[index], what)
    if kind in (TopicKind.STATUS, TopicKind.STATS, TopicKind.ACKS):
        return ParsedTopic(kind, parts[2], parts[3])
    if kind is TopicKind.COMMANDS:
        return ParsedTopic(kind, parts[2], parts[3], leaf=check_segment(parts[5], "command"))
    camera = check_segment(parts[5], "camera")
    if kind is TopicKind.EVENTS:
        return ParsedTopic(kind, parts[2], parts[3], camera, check_segment(parts[6], "type"))
    try:
        event_id = uuid.UUID(parts[6])
    except ValueError:
        raise TopicError(f"snapshot event id {parts[6][:40]!r} is not a UUID") from None
    try:
        snap = SnapshotKind(parts[7])
    except ValueError:
        raise TopicError(f"unknown snapshot kind {parts[7][:40]!r}") from None
    return ParsedTopic(kind, parts[2], parts[3], camera, f"{event_id}/{snap.value}")
