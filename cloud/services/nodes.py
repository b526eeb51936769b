"""The edge nodes as the operations page shows them: online, degraded or offline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.db import NodeStatsRecord, NodeStatusRecord
from cloud.services.accounts import utcnow

DEGRADED_AFTER = timedelta(minutes=2)
"""An online node without a statistics message for this long is shown as degraded."""

NodeKey = tuple[str, str]
"""(site, node)."""


@dataclass(frozen=True)
class NodeState:
    """What is known of one node: its state, when it was last heard of, its cameras."""

    state: str
    last_seen: datetime
    cameras: list[str]


class NodeService:
    """Reads the nodes' latest status and statistics, on one session."""

    def __init__(self, db: Session) -> None:
        self.db = db

    def states(self) -> dict[NodeKey, NodeState]:
        """State, last seen time and camera ids of every known node, by (site, node)."""
        stats_time = func.max(NodeStatsRecord.time)
        last_stats: dict[NodeKey, datetime] = {
            (site, node): t
            for site, node, t in self.db.execute(
                select(NodeStatsRecord.site_id, NodeStatsRecord.node_id, stats_time).group_by(
                    NodeStatsRecord.site_id, NodeStatsRecord.node_id
                )
            ).all()
        }
        now = utcnow()
        out = {}
        for record in self.db.scalars(select(NodeStatusRecord)):
            key = (record.site_id, record.node_id)
            seen = max(filter(None, [record.time, last_stats.get(key)]))
            state = "offline"
            if record.online:
                state = "online" if now - seen <= DEGRADED_AFTER else "degraded"
            cameras = [str(c) for c in (record.payload or {}).get("cameras", [])]
            out[key] = NodeState(state, seen, cameras)
        return out
