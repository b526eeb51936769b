"""The camera map's tile URL: validated setting, ``GET /api/map`` and the page's CSP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from cloud.api import ApiSettings
from cloud.api.settings import load_settings
from tests.api.conftest import Backend, build_backend
from tests.databases import migrated_sqlite
from traffic_monitor.errors import UserFacingError

TILES = "http://tiles.city.local:8080/osm/{z}/{x}/{y}.png"


@pytest.fixture
def tiled(tmp_path: Path) -> Iterator[Backend]:
    store = migrated_sqlite(tmp_path / "api.sqlite3")
    b = build_backend(store, map_tile_url=TILES)
    try:
        yield b
    finally:
        b.client.close()
        store.dispose()


def test_tile_url_is_optional_and_keeps_its_origin():
    assert ApiSettings().map_tile_url is None and ApiSettings().map_tile_origin is None
    settings = ApiSettings(map_tile_url=TILES)
    assert settings.map_tile_url == TILES
    assert settings.map_tile_origin == "http://tiles.city.local:8080"
    assert ApiSettings(map_tile_url="https://t.vn/{z}/{y}/{x}").map_tile_origin == "https://t.vn"
    assert ApiSettings(map_tile_url="").map_tile_url is None


@pytest.mark.parametrize(
    "url",
    [
        "tiles.city.local/{z}/{x}/{y}.png",  # no scheme
        "ftp://tiles.city.local/{z}/{x}/{y}.png",
        "javascript:alert(1)//{z}{x}{y}",
        "http:///{z}/{x}/{y}.png",  # no host
        "http://tiles.city.local/{z}/{x}.png",  # no {y}
        "http://tiles.city.local/tile.png",
        "http://{s}.tiles.city.local/{z}/{x}/{y}.png",  # placeholder in the host: no CSP origin
        "http://user:pw@tiles.city.local/{z}/{x}/{y}.png",
    ],
)
def test_invalid_tile_url_refused(url: str):
    with pytest.raises(ValidationError, match="map_tile_url"):
        ApiSettings(map_tile_url=url)


def test_tile_url_from_environment():
    settings = load_settings(env={"TM_API_MAP_TILE_URL": TILES})
    assert settings.map_tile_url == TILES
    with pytest.raises(UserFacingError, match="map_tile_url"):
        load_settings(env={"TM_API_MAP_TILE_URL": "http://tiles.city.local/{z}.png"})


def test_map_endpoint_without_tiles(sqlite_backend: Backend):
    res = sqlite_backend.client.get("/api/map", headers=sqlite_backend.login("viewer"))
    assert res.status_code == 200 and res.json() == {"tile_url": None}
    csp = sqlite_backend.client.get("/").headers["content-security-policy"]
    assert "img-src 'self' blob: data:;" in csp


def test_map_endpoint_and_csp_with_tiles(tiled: Backend):
    assert tiled.client.get("/api/map").status_code == 401
    res = tiled.client.get("/api/map", headers=tiled.login("viewer"))
    assert res.status_code == 200 and res.json() == {"tile_url": TILES}
    csp = tiled.client.get("/").headers["content-security-policy"]
    assert "img-src 'self' blob: data: http://tiles.city.local:8080;" in csp
    assert "*" not in csp
