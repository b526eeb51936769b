"""Inbound commands to an edge node, on ``traffic/v1/{site}/{node}/commands/{name}``.

The topic's last level names the command; the payload is its JSON message. Commands are
QoS 1 and not retained, so a node that was offline receives the commands queued in its
persistent session when it reconnects: each carries the time it was issued, and a command
older than the node's limit is refused as stale (a signal state from minutes ago must not
raise a red-light violation now).

========================  ======================  ===========================================
Name                      Payload                 Effect on the node
========================  ======================  ===========================================
``signal_state``          :class:`SignalCommand`  Sets an externally fed signal's state (the
                                                  red-light rule reads it).
``ping``                  :class:`PingCommand`    Republishes the retained node status
                                                  (online, uptime) at once.
========================  ======================  ===========================================
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from traffic_monitor.contract.events import (
    CONTROL_VERSION,
    SEGMENT_PATTERN,
    SchemaVersion,
    WireTime,
    _Wire,
)


class CommandName(StrEnum):
    """Commands a node understands (the last level of the command topic)."""

    SIGNAL_STATE = "signal_state"
    PING = "ping"


def _now() -> datetime:
    return datetime.now(UTC)


class _Command(_Wire):
    schema_version: SchemaVersion = Field(
        default=CONTROL_VERSION, description="Version of this schema."
    )
    time: WireTime = Field(default_factory=_now, description="When it was issued (UTC).")


class SignalCommand(_Command):
    """The state of a traffic signal, pushed by the signal controller or the aggregator."""

    signal_id: str = Field(pattern=SEGMENT_PATTERN, description="Signal id in the scene config.")
    state: Literal["red", "amber", "green", "unknown"] = Field(description="Current state.")


class PingCommand(_Command):
    """Asks the node to republish its status at once (liveness check)."""

    request_id: str = Field(default="", max_length=64, description="Echoed in the log only.")


COMMAND_MODELS: dict[CommandName, type[SignalCommand] | type[PingCommand]] = {
    CommandName.SIGNAL_STATE: SignalCommand,
    CommandName.PING: PingCommand,
}
"""The message model of each command."""
