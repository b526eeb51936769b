"""The evidence routes: an incident's later events show the image taken when it started."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import JPEG, Backend
from tests.events import T0, at, make_event
from traffic_monitor.contract import EventPhase


def test_an_incidents_end_event_shows_its_start_image_audited(sqlite_backend: Backend):
    start = make_event(time=T0).model_copy(update={"phase": EventPhase.START, "track_id": 7})
    other = make_event(time=at(1)).model_copy(update={"phase": EventPhase.START, "track_id": 8})
    end = start.model_copy(
        update={
            "event_id": make_event().event_id,
            "phase": EventPhase.END,
            "time": start.time + timedelta(minutes=2),
        }
    )
    sqlite_backend.add_events(start, snapshot=True)
    sqlite_backend.add_events(other, snapshot=True, content=JPEG + b"other")
    sqlite_backend.add_events(end)
    operator = sqlite_backend.login("operator")
    res = sqlite_backend.client.get(
        f"/api/events/{end.event_id}/evidence/snapshot", headers=operator
    )
    assert res.status_code == 200 and res.content == JPEG  # its own track's, not track 8's
    assert res.headers["x-event-id"] == str(start.event_id)
    admin = sqlite_backend.login("admin")
    views = [
        a
        for a in sqlite_backend.client.get("/api/audit", headers=admin).json()
        if a["action"] == "evidence.view"
    ]
    assert views[0]["target"] == f"event:{start.event_id}"
    assert views[0]["detail"] == f"snapshot for event:{end.event_id}"
    viewer = sqlite_backend.login("viewer")
    url = f"/api/events/{end.event_id}/evidence/snapshot"
    assert sqlite_backend.client.get(url, headers=viewer).status_code == 403
    unrelated = make_event(time=T0, camera_id="cam-9")
    sqlite_backend.add_events(unrelated)
    url = f"/api/events/{unrelated.event_id}/evidence/snapshot"
    assert sqlite_backend.client.get(url, headers=operator).status_code == 404
