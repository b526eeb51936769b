"""The camera map in Chromium: Web-Mercator tiles from a configured tile server, else an outline.

A loopback HTTP server plays the city's tile server (PNG tiles at ``/{z}/{x}/{y}.png``); the
page's CSP must let exactly that origin's images in, and the camera dots must sit on the
tiles at their Web-Mercator position.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from cloud.api import ApiSettings, create_app
from cloud.db import Role
from cloud.migrations import upgrade
from cloud.services.accounts import create_user
from cloud.store import EventStore
from cloud.store.cameras import CameraPosition, upsert_cameras
from tests.api.conftest import PASSWORD
from tests.browser.test_alert_view import ARTIFACTS, CHROMIUM, _login, chromium
from traffic_monitor.net import free_port

CAMERAS = [
    CameraPosition(camera_id="cam-west", site_id="dn", name="Tây", lat=16.0600, lon=108.1700),
    CameraPosition(camera_id="cam-east", site_id="dn", name="Đông", lat=16.0680, lon=108.1800),
    CameraPosition(camera_id="cam-nopos", site_id="dn", name="Chưa định vị"),
]


def _png_tile() -> bytes:
    import cv2
    import numpy as np

    tile = np.full((256, 256, 3), 230, np.uint8)
    tile[::32, :] = (200, 160, 120)
    ok, data = cv2.imencode(".png", tile)
    assert ok
    return bytes(data.tobytes())


class TileServer:
    """A loopback tile server that records the tiles asked for."""

    def __init__(self) -> None:
        png = _png_tile()
        asked: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                asked.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(png)))
                self.end_headers()
                self.wfile.write(png)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.asked = asked
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _serve(
    settings: ApiSettings, store: EventStore
) -> tuple[str, uvicorn.Server, threading.Thread]:
    port = free_port()
    app = create_app(settings, store)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    return f"http://127.0.0.1:{port}", srv, thread


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    store = EventStore(f"sqlite:///{tmp_path / 'map.sqlite3'}")
    upgrade(store)
    with store.session() as db:
        create_user(db, "viewer", PASSWORD, Role.VIEWER)
        upsert_cameras(db, CAMERAS)
        db.commit()
    yield store
    store.dispose()


def _world_px(lat: float, lon: float, z: int) -> tuple[float, float]:
    size = 256 * 2**z
    s = math.sin(math.radians(lat))
    return (lon + 180) / 360 * size, (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * size


def _centre(box: dict[str, float] | None) -> tuple[float, float]:
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


@contextmanager
def _open_map(base: str) -> Iterator[tuple[Any, list[str]]]:
    """The viewer's page with the map drawn, and the page errors seen; Chromium closed after."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # a tile refused by the page's CSP is reported on the console
        page.on(
            "console",
            lambda msg: errors.append(msg.text) if "Security Policy" in msg.text else None,
        )
        _login(page, base, "viewer")
        page.wait_for_selector("#map [data-camera=cam-east]")
        yield page, errors


def test_map_draws_tiles_from_the_configured_server(store: EventStore):
    tiles = TileServer()
    url = f"http://127.0.0.1:{tiles.port}/{{z}}/{{x}}/{{y}}.png"
    base, srv, thread = _serve(ApiSettings(map_tile_url=url), store)
    try:
        with _open_map(base) as (page, errors):
            page.wait_for_function(
                "() => { const t = [...document.querySelectorAll('#map img.tile')];"
                " return t.length > 0 && t.every((i) => i.complete && i.naturalWidth > 0); }",
                timeout=10_000,
            )
            imgs = page.locator("#map img.tile")
            assert imgs.count() >= 1
            assert all(w == 256 for w in imgs.evaluate_all("ts => ts.map((t) => t.naturalWidth)"))
            names = imgs.evaluate_all("ts => ts.map((t) => t.dataset.tile)")
            assert {f"/{n}.png" for n in names} <= set(tiles.asked)
            z = int(names[0].split("/")[0])
            assert 10 <= z <= 18  # 0.01° apart: a street-level zoom, not the world
            # each placed dot's centre sits on its Web-Mercator position over the tiles
            first = imgs.first
            z0, tx, ty = (int(v) for v in first.get_attribute("data-tile").split("/"))  # type: ignore[union-attr]
            tile_box = first.bounding_box()
            assert tile_box is not None
            map_box = page.locator("#map").bounding_box()
            assert map_box is not None
            for cam in CAMERAS[:2]:
                assert cam.lat is not None and cam.lon is not None
                wx, wy = _world_px(cam.lat, cam.lon, z0)
                x, y = _centre(page.locator(f"[data-camera={cam.camera_id}]").bounding_box())
                assert abs(x - (tile_box["x"] + wx - tx * 256)) <= 2
                assert abs(y - (tile_box["y"] + wy - ty * 256)) <= 2
                assert map_box["x"] < x < map_box["x"] + map_box["width"]
                assert map_box["y"] < y < map_box["y"] + map_box["height"]
            east = _centre(page.locator("[data-camera=cam-east]").bounding_box())
            west = _centre(page.locator("[data-camera=cam-west]").bounding_box())
            assert east[0] > west[0] and east[1] < west[1]  # east and north of the other
            assert page.locator("#map-unplaced [data-camera=cam-nopos]").is_visible()  # below
            ARTIFACTS.mkdir(exist_ok=True)
            page.locator("#side-column").screenshot(path=str(ARTIFACTS / "map_tiles_vi.png"))
            assert errors == []
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        tiles.close()


def test_map_without_tile_url_draws_the_offline_outline(store: EventStore):
    base, srv, thread = _serve(ApiSettings(), store)
    try:
        with _open_map(base) as (page, errors):
            assert page.locator("#map img").count() == 0
            assert page.locator("#map.tiles").count() == 0
            assert page.locator("#map svg.roads").count() == 1  # the local GeoJSON's layer
            expect_text = page.locator("#map-mode").text_content()
            assert expect_text == "Bản đồ đường phố ngoại tuyến (đường nét)"
            east = _centre(page.locator("[data-camera=cam-east]").bounding_box())
            west = _centre(page.locator("[data-camera=cam-west]").bounding_box())
            assert east[0] > west[0] and east[1] < west[1]
            assert page.locator("[data-camera=cam-nopos]").is_visible()
            assert errors == []
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def test_unreachable_tile_server_leaves_the_dots_in_place(store: EventStore):
    url = f"http://127.0.0.1:{free_port()}/{{z}}/{{x}}/{{y}}.png"  # nothing listens there
    base, srv, thread = _serve(ApiSettings(map_tile_url=url), store)
    try:
        with _open_map(base) as (page, errors):
            page.wait_for_function("() => !document.querySelector('#map img.tile')", timeout=10_000)
            assert page.locator("#map.tiles").count() == 1  # placed by the tile projection
            east = _centre(page.locator("[data-camera=cam-east]").bounding_box())
            west = _centre(page.locator("[data-camera=cam-west]").bounding_box())
            assert east[0] > west[0] and east[1] < west[1]
            assert errors == []
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
