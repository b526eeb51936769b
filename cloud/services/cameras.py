"""Cameras as the operations page shows them: position, node state, events, evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from cloud.services.accounts import Principal, audit
from cloud.services.events import EventService
from cloud.services.nodes import NodeService
from cloud.services.reports import ReportsService
from cloud.store.cameras import CameraPosition, camera_positions, upsert_cameras


@dataclass(frozen=True)
class CameraState:
    """One camera: where it stands (if registered), its node's state, its events."""

    camera_id: str
    site_id: str
    position: CameraPosition | None
    state: str
    """Its node's state (online, offline, degraded), ``unknown`` when no node is known."""
    node_id: str | None
    events: int
    last_event: datetime | None
    has_snapshot: bool


class CameraService:
    """Registered cameras and cameras seen in events, on one session.

    Args:
        db: The request's session; registrations are audited and committed.
        reports: The report intake, told when camera positions change.
    """

    def __init__(self, db: Session, reports: ReportsService) -> None:
        self.db = db
        self.reports = reports

    def cameras(self) -> list[CameraState]:
        """Every registered or seen camera, by id.

        A camera's state is its node's: the node that lists it in its birth message, else
        the node of its latest event.
        """
        summary = EventService(self.db).camera_summary()
        with_image = EventService(self.db).cameras_with_evidence()
        nodes = NodeService(self.db).states()
        serving = {cam: key for key, known in nodes.items() for cam in known.cameras}
        positions = {p.camera_id: p for p in camera_positions(self.db)}
        out = []
        for cam in sorted(set(positions) | set(summary)):
            pos = positions.get(cam)
            site, node, count, last = summary.get(cam, ("", None, 0, None))
            key = serving.get(cam) or ((site, node) if node else None)
            out.append(
                CameraState(
                    camera_id=cam,
                    site_id=pos.site_id if pos else site,
                    position=pos,
                    state=nodes[key].state if key in nodes else "unknown",
                    node_id=key[1] if key else None,
                    events=count,
                    last_event=last,
                    has_snapshot=cam in with_image,
                )
            )
        return out

    def register(self, positions: Sequence[CameraPosition], who: Principal) -> None:
        """Register or move cameras; audited; the report intake uses them at once."""
        upsert_cameras(self.db, positions)
        self.reports.cameras_changed()
        names = ", ".join(c.camera_id for c in positions)[:500]
        audit(self.db, who.name, "camera.register", "cameras", names)
        self.db.commit()
