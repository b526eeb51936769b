"""Cameras: positions for the map, live state from their node, latest evidence image."""

from __future__ import annotations

from fastapi import APIRouter, Response

from cloud.api.deps import Admin, Cameras, Events, Operator, Settings, Viewer
from cloud.api.routers.events import jpeg_response
from cloud.api.routers.schemas import CameraOut, MapOut
from cloud.services.cameras import CameraState
from cloud.store.cameras import CameraPosition

router = APIRouter(prefix="/api", tags=["cameras"])


@router.get("/map", response_model=MapOut)
def map_settings(settings: Settings, who: Viewer) -> MapOut:
    """The camera map's tile URL (``map_tile_url`` setting; None: draw a coordinate grid)."""
    return MapOut(tile_url=settings.map_tile_url)


@router.get("/cameras", response_model=list[CameraOut])
def list_cameras(cameras: Cameras, who: Viewer) -> list[CameraOut]:
    """Registered cameras and cameras seen in events, with position, state and counts.

    A camera's state is its node's (online, offline, degraded): the node that lists it in its
    birth message, else the node of its latest event; ``unknown`` when neither is known.
    """
    return [_camera_out(camera) for camera in cameras.cameras()]


def _camera_out(camera: CameraState) -> CameraOut:
    pos = camera.position
    return CameraOut(
        site_id=camera.site_id,
        camera_id=camera.camera_id,
        name=pos.name if pos else "",
        name_vi=pos.name_vi if pos else "",
        name_en=pos.name_en if pos else "",
        lat=pos.lat if pos else None,
        lon=pos.lon if pos else None,
        heading_deg=pos.heading_deg if pos else None,
        state=camera.state,
        node_id=camera.node_id,
        events=camera.events,
        last_event=camera.last_event,
        has_snapshot=camera.has_snapshot,
    )


@router.put("/cameras", response_model=list[CameraOut])
def register_cameras(body: list[CameraPosition], cameras: Cameras, who: Admin) -> list[CameraOut]:
    """Register or move cameras (admins); audited. The report intake uses them at once."""
    cameras.register(body, who)
    return [_camera_out(camera) for camera in cameras.cameras()]


@router.get(
    "/cameras/{camera_id}/snapshot",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def latest_snapshot(camera_id: str, events: Events, who: Operator) -> Response:
    """The camera's latest evidence image (operators and admins); every view is audited.

    The event it belongs to is in the ``X-Event-Id`` header.
    """
    return jpeg_response(events.camera_evidence(camera_id, who))
