"""Edge-to-cloud transport: durable outbox and MQTT v5 publisher (the ``edge run`` sink).

The publisher (:class:`MqttPublisher`) is the sink's face over one broker connection
(:class:`BrokerLink`) shared by three parts: the outbox sender (:class:`OutboxSender`), node
presence (:class:`NodePresence`) and the command listener (:class:`CommandDispatcher`).
"""

from edge.transport.commands import CommandDispatcher, SignalStateSink
from edge.transport.config import BrokerConnection, MqttConfig, TlsConfig
from edge.transport.link import BrokerLink
from edge.transport.outbox import Outbox, OutboxFullError, OutboxMessage, Priority
from edge.transport.presence import CounterSource, NodePresence
from edge.transport.publisher import MqttPublisher, event_priority
from edge.transport.sender import OutboxSender

__all__ = [
    "BrokerConnection",
    "BrokerLink",
    "CommandDispatcher",
    "CounterSource",
    "MqttConfig",
    "MqttPublisher",
    "NodePresence",
    "Outbox",
    "OutboxFullError",
    "OutboxMessage",
    "OutboxSender",
    "Priority",
    "SignalStateSink",
    "TlsConfig",
    "event_priority",
]
