"""Fuzz every operation of ``/openapi.json`` with schemathesis: no answer is a 5xx.

Schemathesis generates valid and invalid requests from the OpenAPI document (bodies, query
strings, path parameters, headers) and calls the real app in-process on a real SQLite file,
authenticated as an admin by API key (so the handlers behind the role checks run too). The
examples are derandomised: the same requests every run, so CI is reproducible; a failure
prints the request to replay. The live stream never ends, so it is left out here
(``test_live_streams`` covers it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from cloud.api import ApiSettings, create_app
from cloud.db import Role
from cloud.services.accounts import create_api_key
from tests.api.conftest import build_backend
from tests.databases import migrated_sqlite
from tests.events import T0, make_event

EXAMPLES = 25
"""Requests per operation (derandomised: the same ones every run)."""

LIVE = "/api/live"


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation of the OpenAPI document (no database needed)."""
    spec = create_app(ApiSettings(database_url="sqlite://")).openapi()
    return [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if path != LIVE
    ]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, dict[str, str]]]:
    """The real app on a SQLite file with events, alerts and evidence; an admin API key."""
    path: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.sqlite3"
    store = migrated_sqlite(path)
    backend = build_backend(store)
    backend.add_events(make_event(time=T0), make_event(time=T0, camera_id="cam-2"), snapshot=True)
    with store.session() as db:
        key = create_api_key(db, "fuzz-admin", Role.ADMIN)
        db.commit()
    app = create_app(ApiSettings(), store)
    yield schemathesis.openapi.from_asgi("/openapi.json", app), {"X-API-Key": key}
    backend.client.close()
    store.dispose()


@pytest.mark.parametrize(("method", "path"), _operations())
def test_no_route_answers_5xx(fuzzed, method: str, path: str):
    schema, admin = fuzzed
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case) -> None:
        response = case.call(headers={**(case.headers or {}), **admin})
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} answered {response.status_code}: "
            f"{response.text[:300]}\n{case.as_curl_command()}"
        )

    call()
