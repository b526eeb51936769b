"""Fixtures of the API tests: an app on SQLite and on the local PostgreSQL, users per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cloud.api import ApiSettings, create_app
from cloud.db import Role
from cloud.services.accounts import create_api_key, create_user
from cloud.services.alerting import AlertGrouper
from cloud.store import EventStore
from cloud.store.store import Batch
from edge.privacy.photos import shared_photo_privacy
from tests.databases import PG_URL, migrated_pg, migrated_sqlite, pg_available
from traffic_monitor.contract import Event

__all__ = ["PG_URL", "pg_available"]  # imported from here by the API and report tests
PASSWORD = "correct-horse-battery"
JPEG = b"\xff\xd8\xff\xe0fake-jpeg-evidence\xff\xd9"


@dataclass
class Backend:
    store: EventStore
    client: TestClient
    api_key: str

    def login(self, role: str) -> dict[str, str]:
        res = self.client.post("/api/auth/login", json={"username": role, "password": PASSWORD})
        assert res.status_code == 200, res.text
        self.client.cookies.clear()
        return {"Authorization": f"Bearer {res.json()['token']}"}

    def add_events(self, *events: Event, snapshot: bool = False, content: bytes = JPEG) -> None:
        """Store events and group them into alerts, as the consumer does after each commit."""
        now = datetime.now(UTC)
        batch = Batch(events=[(e, now) for e in events])
        if snapshot:
            batch.snapshots = [
                {
                    "event_id": e.event_id,
                    "kind": "snapshot",
                    "site_id": e.site_id,
                    "node_id": e.node_id,
                    "camera_id": e.camera_id,
                    "received_at": now,
                    "content": content,
                }
                for e in events
            ]
        self.store.write(batch)
        AlertGrouper(self.store).after_commit(events)


def build_backend(store: EventStore, **settings: object) -> Backend:
    """The app on a migrated store (``cloud migrate`` ran), with a user per role and a key."""
    with store.session() as db:
        for role in Role:
            create_user(db, role.value, PASSWORD, role)
        key = create_api_key(db, "dashboard", Role.VIEWER)
        db.commit()
    # photo privacy with the edge's detectors, as the top layer (traffic_monitor.cli) wires it
    settings_ = ApiSettings(live_poll_s=0.05, **settings)  # type: ignore[arg-type]
    app = create_app(settings_, store, photo_privacy=shared_photo_privacy())
    return Backend(store=store, client=TestClient(app), api_key=key)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        store = migrated_sqlite(tmp_path / "api.sqlite3")
    else:
        if not pg_available():
            pytest.skip(f"PostgreSQL at {PG_URL} is not reachable")
        store = migrated_pg("api_test")
    b = build_backend(store)
    try:
        yield b
    finally:
        b.client.close()
        store.drop()
        store.dispose()


@pytest.fixture
def sqlite_backend(tmp_path: Path) -> Iterator[Backend]:
    store = migrated_sqlite(tmp_path / "api.sqlite3")
    b = build_backend(store)
    try:
        yield b
    finally:
        b.client.close()
        store.dispose()
