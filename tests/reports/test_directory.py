"""Camera positions for the intake: read from the store's cameras table, cached, invalidated."""

from __future__ import annotations

from cloud.reports.correlate import CameraSite
from cloud.reports.directory import StoredCameras, fixed_cameras
from cloud.store.cameras import CameraPosition, upsert_cameras
from tests.databases import migrated_sqlite


def test_stored_cameras_cache_and_invalidate(tmp_path):
    store = migrated_sqlite(tmp_path / "cameras.sqlite3")
    sessions = store.sessions
    clock = [0.0]
    cameras = StoredCameras(sessions, ttl_s=30, clock=lambda: clock[0])

    def register(*positions: CameraPosition) -> None:
        with sessions() as db:
            upsert_cameras(db, positions)
            db.commit()

    hue = CameraPosition(camera_id="cam-hue", site_id="hn", name="Ngã ba Huế", lat=21.0, lon=105.8)
    register(hue, CameraPosition(camera_id="cam-nowhere", site_id="hn"))  # no position
    assert cameras() == {"cam-hue": CameraSite(21.0, 105.8, "Ngã ba Huế")}
    register(hue.model_copy(update={"lat": 21.5}))
    assert cameras()["cam-hue"].lat == 21.0  # cached
    clock[0] = 30.0
    assert cameras()["cam-hue"].lat == 21.5  # expired: read again
    register(CameraPosition(camera_id="cam-2", site_id="hn", lat=1.0, lon=2.0))
    cameras.invalidate()
    assert set(cameras()) == {"cam-hue", "cam-2"} and cameras()["cam-2"].name == "cam-2"
    store.dispose()


def test_fixed_cameras_is_a_constant_lookup():
    sites = {"a": CameraSite(1.0, 2.0, "A")}
    lookup = fixed_cameras(sites)
    sites.clear()
    assert lookup() == {"a": CameraSite(1.0, 2.0, "A")}
