"""The operations page's emergency list and acknowledgement (issue 25.5, API side)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cloud.db import AuditRecord
from tests.api.conftest import PG_URL, build_backend, pg_available
from tests.databases import migrated_pg, migrated_sqlite

HERE = {"lat": "21.0120", "long": "105.8510"}


@pytest.fixture(params=["sqlite", "postgresql"])
def b(request, tmp_path):
    if request.param == "sqlite":
        store = migrated_sqlite(tmp_path / "api.sqlite3")
    else:
        if not pg_available():
            pytest.skip(f"PostgreSQL at {PG_URL} is not reachable")
        store = migrated_pg("reports_em")
    backend = build_backend(store)
    yield backend
    backend.client.close()
    if request.param == "postgresql":
        store.drop()
    store.dispose()


def _report(b, text: str) -> str:
    res = b.client.post(
        "/open311/v2/requests.json", data={"service_code": "other", "description": text, **HERE}
    )
    assert res.status_code == 201, res.text
    return res.json()[0]["service_request_id"]


def test_emergencies_listed_until_acknowledged_and_ack_is_audited(b):
    fire = _report(b, "xe khách bốc cháy dữ dội trên cầu, khói đen mù mịt")
    hurt = _report(b, "tnạn, 1 ng nằm bất động chảy nhiều máu")
    calm = _report(b, "ổ gà giữa đường lâu rồi chưa sửa")
    viewer, operator = b.login("viewer"), b.login("operator")
    listed = b.client.get("/api/reports/emergencies", headers=viewer).json()
    assert [r["ticket"] for r in listed] == [hurt, fire]  # newest first, the calm one absent
    by_ticket = {r["ticket"]: r for r in listed}
    assert by_ticket[fire]["emergency_kinds"] == ["fire"]
    assert by_ticket[fire]["emergency_numbers"][0] == "114"
    assert by_ticket[hurt]["emergency_numbers"][0] == "115"
    assert all(r["acknowledged_at"] is None for r in listed)
    assert b.client.post(f"/api/reports/{fire}/acknowledge", headers=viewer).status_code == 403
    ack = b.client.post(f"/api/reports/{fire}/acknowledge", headers=operator)
    assert ack.status_code == 200, ack.text
    assert ack.json()["acknowledged_by"] == "operator" and ack.json()["acknowledged_at"]
    again = b.client.post(f"/api/reports/{fire}/acknowledge", headers=operator).json()
    assert again["acknowledged_at"] == ack.json()["acknowledged_at"]  # the first one stays
    listed = b.client.get("/api/reports/emergencies", headers=viewer).json()
    assert [r["ticket"] for r in listed] == [hurt, fire]  # unacknowledged first
    open_only = b.client.get(
        "/api/reports/emergencies", params={"include_acknowledged": "false"}, headers=viewer
    ).json()
    assert [r["ticket"] for r in open_only] == [hurt]
    refused = b.client.post(f"/api/reports/{calm}/acknowledge", headers=operator)
    assert refused.status_code == 400 and "not an emergency" in refused.json()["detail"]
    missing = b.client.post("/api/reports/PA-999999/acknowledge", headers=operator)
    assert missing.status_code == 404
    with b.store.session() as db:
        rows = db.scalars(select(AuditRecord).where(AuditRecord.action == "report.acknowledge"))
        assert [(r.actor, r.target) for r in rows] == [("operator", f"report:{fire}")] * 2
