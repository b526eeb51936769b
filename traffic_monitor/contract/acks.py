"""End-to-end delivery acknowledgements, aggregator → node, on ``traffic/v1/{site}/{node}/acks``.

An MQTT PUBACK only says that the broker holds a message. A broker restarted before the
aggregators have subscribed again acknowledges and drops what the nodes send (Mosquitto does
not restore shared subscriptions), and a SIGKILLed broker loses what it acknowledged but had
not saved. So the node's outbox keeps every message until the aggregator has *stored* it:

- each outbox message carries, in the MQTT v5 user property :data:`OUTBOX_PROPERTY`, the id
  of the node's outbox and the message's sequence number there (``{outbox_id}:{seq}``);
- after the transaction that stores a batch has committed, the aggregator publishes one
  :class:`DeliveryAck` per node and outbox, listing the sequence numbers it stored (as rows or
  as duplicates of rows already there) and those it refused (dead letters);
- the node deletes those and sends again, with growing delays, what stays unacknowledged;
  the store drops the duplicates by event id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Final

from pydantic import Field

from traffic_monitor.contract.events import SCHEMA_VERSION, SchemaVersion, _Wire

OUTBOX_PROPERTY: Final = "tm-outbox"
"""MQTT v5 user property naming a message's outbox and sequence number."""

OUTBOX_ID_PATTERN: Final = r"^[0-9a-f]{32}$"
"""An outbox id: 32 lowercase hex digits, made once when the outbox file is created."""

MAX_SEQ: Final = 2**63 - 1
"""Largest sequence number (SQLite's integer key)."""

_KEY = re.compile(r"^([0-9a-f]{32}):([0-9]{1,19})$")

Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]


class DeliveryAck(_Wire):
    """Which messages of one node's outbox the aggregator has stored or refused."""

    schema_version: SchemaVersion = Field(
        default=SCHEMA_VERSION, description="Version of this schema."
    )
    outbox_id: str = Field(pattern=OUTBOX_ID_PATTERN, description="The node's outbox.")
    stored: list[tuple[Seq, Seq]] = Field(
        default_factory=list,
        max_length=4096,
        description="Inclusive ranges [first, last] of sequence numbers stored (or already "
        "stored: a duplicate).",
    )
    refused: list[Seq] = Field(
        default_factory=list,
        max_length=4096,
        description="Sequence numbers refused as dead letters; the node drops them.",
    )


def outbox_key(outbox_id: str, seq: int) -> str:
    """Return the value of the :data:`OUTBOX_PROPERTY` user property of a message."""
    return f"{outbox_id}:{seq}"


def parse_outbox_key(value: str) -> tuple[str, int] | None:
    """Return (outbox id, sequence number) of a user property value; None when malformed."""
    match = _KEY.fullmatch(value)
    if match is None:
        return None
    seq = int(match.group(2))
    return (match.group(1), seq) if seq <= MAX_SEQ else None


def seq_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Compress sequence numbers into sorted inclusive ranges: ``[1,2,3,7]`` → ``[(1,3),(7,7)]``."""
    ranges: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges
