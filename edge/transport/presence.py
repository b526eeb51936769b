"""Node presence: birth and last will on ``…/status``, periodic ``…/stats``.

On every connection the node publishes a retained ``online`` :class:`NodeStatus` (its birth);
the broker publishes the ``offline`` last will if the node vanishes; at shutdown the node
says ``offline`` itself. Every ``stats_interval_s`` it queues a :class:`NodeStats` in the
outbox (lowest priority: the first thing dropped when the outbox is full): events stored per
type, the outbox state, and counters of the period.

The counters come from three places: the pipeline's metrics (:data:`CounterSource`, e.g.
:meth:`edge.pipeline.metrics.PipelineMetrics.totals`: frames, events, drops, errors,
restarts), reported as the increase over the period; counts added by :meth:`count`
(``malformed_acks``); and ``resent``, the outbox sender's resends since start.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

from edge.transport.config import MqttConfig
from edge.transport.link import BrokerLink
from edge.transport.outbox import Outbox, Priority
from traffic_monitor import __version__
from traffic_monitor.contract import NodeStats, NodeStatus, encode, stats_topic, status_topic

logger = logging.getLogger(__name__)

CounterSource = Callable[[], Mapping[str, float]]
"""Returns running totals since the process started (e.g. ``{"frames": 1200, …}``)."""


class NodePresence:
    """Birth, last will and periodic stats of one edge node.

    Args:
        link: The node's broker connection: the will is set on it, the birth is published
            on each of its connections.
        outbox: Where the stats are queued (and whose state they report).
        config: The node's identity and ``stats_interval_s``.
        cameras: Camera ids announced in the birth message.
        model: Detector model announced in the birth message.
        resent: Returns the outbox sender's resends since start.
    """

    def __init__(
        self,
        link: BrokerLink,
        outbox: Outbox,
        config: MqttConfig,
        *,
        cameras: Iterable[str] = (),
        model: str | None = None,
        resent: Callable[[], int] = lambda: 0,
    ) -> None:
        self.config = config
        self.cameras = list(cameras)
        self.model = model
        self._link = link
        self._outbox = outbox
        self._resent = resent
        self._started_at = datetime.now(UTC)
        self._type_counts: Counter[str] = Counter()
        self._counters: Counter[str] = Counter()
        self._sources: list[CounterSource] = []
        self._reported: dict[str, float] = {}
        self._next_stats = float("inf")
        link.will(*self.status_message(online=False, reason="connection lost"))
        link.on_session(self.announce)

    # -- status -----------------------------------------------------------------------------

    def status_message(self, online: bool, reason: str = "") -> tuple[str, bytes]:
        """The topic and payload of this node's status (online or offline, and why)."""
        cfg = self.config
        status = NodeStatus(
            site_id=cfg.site_id,
            node_id=cfg.node_id,
            online=online,
            software_version=__version__,
            cameras=self.cameras,
            model=self.model,
            started_at=self._started_at,
            uptime_s=(datetime.now(UTC) - self._started_at).total_seconds(),
            reason=reason,
        )
        return status_topic(cfg.site_id, cfg.node_id), encode(status)

    def announce(self) -> None:
        """Publish the retained ``online`` status (birth, and the answer to a ping)."""
        self._link.publish(*self.status_message(online=True), retain=True)

    def say_offline(self, timeout: float = 2.0) -> None:
        """Publish the retained ``offline`` status of a shutdown, if connected; wait for it."""
        if self._link.connected:
            info = self._link.publish(
                *self.status_message(online=False, reason="shutdown"), retain=True
            )
            info.wait_for_publish(timeout=timeout)

    # -- stats ------------------------------------------------------------------------------

    def add_counters(self, source: CounterSource) -> None:
        """Report the increase of ``source``'s totals in every stats message."""
        self._sources.append(source)

    def count(self, name: str, increment: int = 1) -> None:
        """Add to a counter reported in the next stats message."""
        self._counters[name] += increment

    def count_events(self, types: Iterable[str]) -> None:
        """Count events stored for publication, per type (``events_by_type``)."""
        self._type_counts.update(types)

    def start(self) -> None:
        """Start the stats period (the first stats go out one interval from now)."""
        interval = self.config.stats_interval_s
        self._next_stats = time.monotonic() + (interval or float("inf"))

    def tick(self) -> None:
        """Queue the stats when their period is over (the outbox sender's thread)."""
        if time.monotonic() < self._next_stats:
            return
        self._next_stats = time.monotonic() + self.config.stats_interval_s
        self.queue_stats()

    def queue_stats(self) -> None:
        """Queue one stats message for the period that ends now; start the next period."""
        cfg = self.config
        counters = self._pipeline_counters() | dict(self._counters)
        counters["resent"] = self._resent()
        stats = NodeStats(
            site_id=cfg.site_id,
            node_id=cfg.node_id,
            period_s=cfg.stats_interval_s,
            events_by_type=dict(self._type_counts),
            counters=counters,
            outbox=self._outbox.metrics(),
        )
        self._type_counts.clear()
        self._counters.clear()
        try:
            self._outbox.put(stats_topic(cfg.site_id, cfg.node_id), encode(stats), Priority.STATS)
        except Exception:
            logger.exception("could not queue node stats")

    def _pipeline_counters(self) -> dict[str, int]:
        """Increase of every source's totals since the last stats (never below zero)."""
        totals: dict[str, float] = {}
        for source in self._sources:
            try:
                totals.update(source())
            except Exception:  # a broken source must not stop the stats, nor the sender
                logger.exception("could not read the pipeline's counters")
        increase = {
            name: max(0, round(value - self._reported.get(name, 0.0)))
            for name, value in totals.items()
        }
        self._reported.update(totals)
        return increase
