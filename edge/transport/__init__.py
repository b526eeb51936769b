"""Edge-to-cloud transport: durable outbox and MQTT v5 publisher (the ``edge run`` sink)."""

from edge.transport.commands import CommandDispatcher, SignalStateSink
from edge.transport.config import MqttConfig, TlsConfig
from edge.transport.outbox import Outbox, OutboxFullError, OutboxMessage, Priority
from edge.transport.publisher import MqttPublisher, event_priority

__all__ = [
    "CommandDispatcher",
    "MqttConfig",
    "MqttPublisher",
    "Outbox",
    "OutboxFullError",
    "OutboxMessage",
    "Priority",
    "SignalStateSink",
    "TlsConfig",
    "event_priority",
]
