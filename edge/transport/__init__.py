"""Edge-to-cloud transport: durable outbox and MQTT v5 publisher (the ``edge run`` sink)."""

from edge.transport.config import MqttConfig, TlsConfig
from edge.transport.outbox import Outbox, OutboxFullError, OutboxMessage, Priority
from edge.transport.publisher import MqttPublisher, event_priority

__all__ = [
    "MqttConfig",
    "MqttPublisher",
    "Outbox",
    "OutboxFullError",
    "OutboxMessage",
    "Priority",
    "TlsConfig",
    "event_priority",
]
