"""Inbound commands of an edge node: validation and dispatch (``…/commands/{name}``).

The node's broker link (:class:`edge.transport.link.BrokerLink`) subscribes to its own
``traffic/v1/{site}/{node}/commands/+`` and routes each message to
:class:`CommandDispatcher`. A malformed, unknown, stale or misaddressed command
is logged, counted and ignored; nothing a sender puts on the topic can stop the node.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from traffic_monitor.contract import (
    ContractError,
    PingCommand,
    SignalCommand,
    TopicError,
    TopicKind,
    decode_command,
    parse_topic,
)
from traffic_monitor.contract.topics import node_prefix

logger = logging.getLogger(__name__)


class SignalStateSink(Protocol):
    """Where ``signal_state`` commands go: ``edge.rules.signals.ExternalSignalStates``."""

    def set(self, signal_id: str, state: str) -> None:
        """Record the latest state of a signal (called from the MQTT network thread)."""
        ...


class CommandDispatcher:
    """Validates inbound commands and calls the matching action.

    Args:
        site_id: This node's site; commands for another site or node are refused.
        node_id: This node's id.
        on_ping: Called for a valid ``ping`` (the publisher republishes its status).
        signals: Receives ``signal_state`` commands; None refuses them as unsupported.
        max_age_s: Commands issued longer ago than this are refused as stale (clocks are
            assumed NTP-synchronised; a queued signal state must not be applied late).
        clock: Current UTC time (tests).
    """

    def __init__(
        self,
        site_id: str,
        node_id: str,
        *,
        on_ping: Callable[[], None],
        signals: SignalStateSink | None = None,
        max_age_s: float = 10.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.site_id = site_id
        self.node_id = node_id
        self.signals = signals
        self.max_age_s = max_age_s
        self.counts: Counter[str] = Counter()
        """Commands by outcome: ``signal_state``, ``ping``, ``malformed``, ``stale``, …"""
        self._on_ping = on_ping
        self._clock = clock

    @property
    def topic_filter(self) -> str:
        """The subscription of this node's commands."""
        return f"{node_prefix(self.site_id, self.node_id)}/commands/+"

    def handle(self, topic: str, payload: bytes) -> str | None:
        """Validate and run one command; never raises.

        Returns:
            None when the command was applied, else why it was refused (also logged and
            counted in :attr:`counts`).
        """
        try:
            outcome, reason = self._handle(topic, payload)
        except Exception as exc:  # an action failing must not kill the network thread
            logger.exception("command on %r failed", topic[:120])
            outcome, reason = "failed", f"{type(exc).__name__}: {exc}"
        self.counts[outcome] += 1
        if reason is not None:
            logger.warning("ignored command on %r: %s", topic[:120], reason)
        return reason

    def _command_name(self, topic: str) -> tuple[str | None, str]:
        """Return (name, "") for this node's command topic, else (None, outcome: reason)."""
        try:
            parsed = parse_topic(topic)
        except TopicError as exc:
            return None, f"malformed: {exc}"
        if parsed.kind is not TopicKind.COMMANDS or parsed.leaf is None:
            return None, f"malformed: not a command topic: {topic[:120]!r}"
        if (parsed.site_id, parsed.node_id) != (self.site_id, self.node_id):
            return None, f"misaddressed: command for {parsed.site_id}/{parsed.node_id}"
        return parsed.leaf, ""

    def _handle(self, topic: str, payload: bytes) -> tuple[str, str | None]:
        name, refusal = self._command_name(topic)
        if name is None:
            outcome, _, reason = refusal.partition(": ")
            return outcome, reason
        try:
            command = decode_command(name, payload)
        except ContractError as exc:
            unknown = str(exc).startswith("unknown command")
            return ("unknown" if unknown else "malformed"), str(exc)
        age_s = (self._clock() - command.time).total_seconds()
        if age_s > self.max_age_s:
            return "stale", f"{name} issued {age_s:.1f} s ago (limit {self.max_age_s} s)"
        if isinstance(command, SignalCommand):
            return self._signal(command)
        return self._ping(command)

    def _signal(self, command: SignalCommand) -> tuple[str, str | None]:
        if self.signals is None:
            return "unsupported", "signal_state: this node has no externally fed signals"
        self.signals.set(command.signal_id, command.state)
        logger.debug("signal %s set to %s by command", command.signal_id, command.state)
        return "signal_state", None

    def _ping(self, command: PingCommand) -> tuple[str, str | None]:
        logger.info("ping %r: republishing status", command.request_id)
        self._on_ping()
        return "ping", None
