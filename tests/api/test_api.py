"""Events, alerts workflow, evidence audit and auth on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from cloud.services.security import hash_password, verify_password
from tests.api.conftest import JPEG, PASSWORD, Backend
from tests.events import T0, at, make_event
from traffic_monitor.contract import EventType, Severity


def test_password_hash_is_salted_scrypt():
    a, b = hash_password(PASSWORD), hash_password(PASSWORD)
    assert a != b and a.startswith("scrypt$")
    assert verify_password(PASSWORD, a)
    assert not verify_password(PASSWORD + "x", a)
    assert not verify_password(PASSWORD, "garbage")


def test_login_me_logout(backend: Backend):
    c = backend.client
    res = c.post("/api/auth/login", json={"username": "operator", "password": PASSWORD})
    assert res.status_code == 200
    assert res.cookies.get("tm_session")
    assert c.get("/api/auth/me").json() == {"name": "operator", "role": "operator", "kind": "user"}
    assert c.post("/api/auth/logout").status_code == 204
    c.cookies.clear()
    assert c.get("/api/auth/me").status_code == 401
    headers = {"Authorization": f"Bearer {res.json()['token']}"}
    assert c.get("/api/auth/me", headers=headers).status_code == 401  # session closed


def test_wrong_password_and_rate_limit(backend: Backend):
    c = backend.client
    for _ in range(5):
        res = c.post("/api/auth/login", json={"username": "viewer", "password": "nope"})
        assert res.status_code == 401
    res = c.post("/api/auth/login", json={"username": "viewer", "password": PASSWORD})
    assert res.status_code == 429  # even the right password, while blocked


def test_api_key_authenticates_with_its_role(backend: Backend):
    headers = {"X-API-Key": backend.api_key}
    assert backend.client.get("/api/auth/me", headers=headers).json()["role"] == "viewer"
    assert backend.client.get("/api/events", headers=headers).status_code == 200
    assert backend.client.get("/api/users", headers=headers).status_code == 403
    assert backend.client.get("/api/auth/me", headers={"X-API-Key": "tmk_bad"}).status_code == 401


def test_events_filters_and_cursor_pagination(backend: Backend):
    events = [make_event(time=at(i), camera_id=f"cam-{i % 2}") for i in range(7)]
    events.append(make_event(EventType.SPEEDING, time=at(3), severity=Severity.LOW))
    backend.add_events(*events)
    h = backend.login("viewer")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = backend.client.get("/api/events", params=params, headers=h).json()
        seen += [e["event_id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 8 and len(set(seen)) == 8
    times = [backend.client.get(f"/api/events/{i}", headers=h).json()["time"] for i in seen]
    assert times == sorted(times, reverse=True)

    only = backend.client.get("/api/events", params={"camera_id": "cam-1"}, headers=h).json()
    assert {e["camera_id"] for e in only["items"]} == {"cam-1"} and len(
        only["items"]
    ) == 4  # 1, 3, 5 + speeding
    typed = backend.client.get("/api/events", params={"type": "speeding"}, headers=h).json()
    assert [e["severity"] for e in typed["items"]] == ["low"]
    window = {
        "since": (T0 + timedelta(minutes=2)).isoformat(),
        "until": (T0 + timedelta(minutes=4)).isoformat(),
    }
    ranged = backend.client.get("/api/events", params=window, headers=h).json()
    assert len(ranged["items"]) == 3  # minutes 2, 3 and the speeding event at 3
    sev = backend.client.get("/api/events", params={"severity": ["low", "info"]}, headers=h)
    assert len(sev.json()["items"]) == 1
    bad = backend.client.get("/api/events", params={"cursor": "!!"}, headers=h)
    assert bad.status_code == 400


def test_alerts_grouped_workflow_and_audit(backend: Backend):
    backend.add_events(*[make_event(time=at(i)) for i in range(3)])  # one group (window 5 min)
    backend.add_events(make_event(time=at(1), camera_id="cam-9"))  # other camera: other card
    backend.add_events(make_event(time=at(2), severity=Severity.LOW))  # below medium: no alert
    h = backend.login("operator")
    alerts = backend.client.get("/api/alerts", headers=h).json()
    assert sorted(a["event_count"] for a in alerts) == [1, 3]
    card = next(a for a in alerts if a["camera_id"] == "cam-1")
    assert card["state"] == "new"

    res = backend.client.post(f"/api/alerts/{card['id']}/acknowledge", json={}, headers=h)
    assert res.status_code == 200
    assert res.json()["state"] == "acknowledged" and res.json()["acknowledged_by"] == "operator"
    again = backend.client.post(f"/api/alerts/{card['id']}/acknowledge", json={}, headers=h)
    assert again.status_code == 409
    res = backend.client.post(
        f"/api/alerts/{card['id']}/resolve", json={"note": "police on site"}, headers=h
    )
    assert res.json()["state"] == "resolved" and res.json()["note"] == "police on site"

    other = next(a for a in alerts if a["camera_id"] == "cam-9")
    res = backend.client.post(f"/api/alerts/{other['id']}/dismiss", json={}, headers=h)
    assert res.json()["state"] == "dismissed"  # kept, marked false positive

    audit = backend.client.get(f"/api/alerts/{card['id']}/audit", headers=h).json()
    assert [(a["actor"], a["action"]) for a in audit] == [
        ("operator", "alert.acknowledge"),
        ("operator", "alert.resolve"),
    ]
    # a new event after the card was closed opens a new card
    backend.add_events(make_event(time=at(4)))
    states = [a["state"] for a in backend.client.get("/api/alerts", headers=h).json()]
    assert sorted(states) == ["dismissed", "new", "resolved"]


def test_evidence_operator_only_and_audited(backend: Backend):
    ev = make_event(time=T0)
    backend.add_events(ev, snapshot=True)
    url = f"/api/events/{ev.event_id}/evidence/snapshot"
    viewer = backend.login("viewer")
    assert backend.client.get(url, headers=viewer).status_code == 403
    operator = backend.login("operator")
    res = backend.client.get(url, headers=operator)
    assert res.status_code == 200 and res.content == JPEG
    assert res.headers["content-type"] == "image/jpeg"
    admin = backend.login("admin")
    audit = backend.client.get("/api/audit", headers=admin).json()
    views = [a for a in audit if a["action"] == "evidence.view"]
    assert (
        views and views[0]["actor"] == "operator" and views[0]["target"] == f"event:{ev.event_id}"
    )
    missing = f"/api/events/{ev.event_id}/evidence/crop"
    assert backend.client.get(missing, headers=operator).status_code == 404


def test_admin_creates_user_and_key(backend: Backend):
    admin = backend.login("admin")
    res = backend.client.post(
        "/api/users",
        json={"username": "lan", "password": "a-long-password", "role": "operator"},
        headers=admin,
    )
    assert res.status_code == 201 and "password" not in res.text
    res = backend.client.post(
        "/api/auth/login", json={"username": "lan", "password": "a-long-password"}
    )
    assert res.json()["role"] == "operator"
    key = backend.client.post(
        "/api/api-keys", json={"name": "bi-tool", "role": "viewer"}, headers=admin
    ).json()["key"]
    assert (
        backend.client.get("/api/auth/me", headers={"X-API-Key": key}).json()["name"]
        == "key:bi-tool"
    )


def test_cameras_and_live_stream(sqlite_backend: Backend):
    b = sqlite_backend
    b.add_events(make_event(time=T0, camera_id="cam-live"))
    h = b.login("viewer")
    cams = b.client.get("/api/cameras", headers=h).json()
    assert cams[0]["camera_id"] == "cam-live" and cams[0]["events"] == 1
    with b.client.stream("GET", "/api/live", headers=h) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        for line in lines:
            if line.startswith("data: "):
                assert '"camera_id":"cam-live"' in line
                break


def test_nodes_online_degraded_offline(backend: Backend):
    from datetime import UTC, datetime

    from cloud.store.store import Batch
    from traffic_monitor.contract import NodeStatus

    now = datetime.now(UTC)
    statuses = [
        (NodeStatus(site_id="s", node_id="fresh", online=True, time=now), now),
        (NodeStatus(site_id="s", node_id="stale", online=True, time=now - timedelta(hours=1)), now),
        (NodeStatus(site_id="s", node_id="gone", online=False, time=now), now),
    ]
    backend.store.write(Batch(statuses=statuses))
    h = backend.login("viewer")
    nodes = {n["node_id"]: n["state"] for n in backend.client.get("/api/nodes", headers=h).json()}
    assert nodes == {"fresh": "online", "stale": "degraded", "gone": "offline"}


def test_settings_from_file_and_env(tmp_path):
    import pytest

    from cloud.api.settings import load_settings
    from traffic_monitor.errors import UserFacingError

    path = tmp_path / "api.json"
    path.write_text('{"session_ttl_s": 600, "open_data_k": 7}', encoding="utf-8")
    settings = load_settings(path, env={"TM_API_SESSION_TTL_S": "900"})
    assert settings.session_ttl_s == 900 and settings.open_data_k == 7
    with pytest.raises(UserFacingError, match="open_data_k"):
        load_settings(None, env={"TM_API_OPEN_DATA_K": "none"})
