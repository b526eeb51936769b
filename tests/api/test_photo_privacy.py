"""Citizen photos: faces and plates pixelated for operators, the original for admins only.

A real street photo (``shared/data/images/bus.jpg``: four pedestrians in front of a bus) goes
through the public Open311 form; the operator's copy must have every face pixelated and the
rest of the photo unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from cloud.db import AuditRecord
from tests.api.conftest import Backend
from traffic_monitor.shared_data import shared_path

BUS = shared_path("data", "images", "bus.jpg")
# centres of the four faces in bus.jpg (810 x 1080), read off the photo
FACES = [(125, 440), (280, 455), (740, 430)]
BACKGROUND = (slice(20, 160), slice(330, 700))  # the building's windows, nobody there


def _image(content: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    return image.astype(np.float32)


@pytest.mark.skipif(not BUS.exists(), reason=f"{BUS} is absent")
def test_report_photo_faces_pixelated_original_for_admins(sqlite_backend: Backend):
    b = sqlite_backend
    data = {"service_code": "accident", "description": "va chạm trước xe buýt", "lat": "21.0"}
    data["long"] = "105.8"
    res = b.client.post(
        "/open311/v2/requests.json", data=data, files={"media": ("bus.jpg", BUS.read_bytes())}
    )
    assert res.status_code == 201, res.text
    ticket = res.json()[0]["service_request_id"]
    viewer, operator, admin = b.login("viewer"), b.login("operator"), b.login("admin")
    url = f"/api/reports/{ticket}/photo"

    assert b.client.get(url, headers=viewer).status_code == 403
    assert b.client.get(url + "?original=true", headers=operator).status_code == 403
    seen = b.client.get(url, headers=operator)
    assert seen.status_code == 200, seen.text
    assert "heads=" in seen.headers["x-redacted"]
    original = b.client.get(url + "?original=true", headers=admin)
    assert original.status_code == 200 and original.content != seen.content

    blurred, clean = _image(seen.content), _image(original.content)
    assert blurred.shape == clean.shape == (1080, 810)
    for x, y in FACES:  # a face pixelated: its fine detail is gone
        face = (slice(y - 20, y + 20), slice(x - 20, x + 20))
        assert np.abs(blurred[face] - clean[face]).mean() > 8, (x, y)
        assert (
            np.abs(np.diff(blurred[face], axis=1)).mean()
            < np.abs(np.diff(clean[face], axis=1)).mean()
        )
    assert np.abs(blurred[BACKGROUND] - clean[BACKGROUND]).mean() < 3  # the rest is kept

    again = b.client.get(url, headers=operator)
    assert again.content == seen.content  # made once, stored
    with b.store.session() as db:
        details = list(
            db.scalars(select(AuditRecord.detail).where(AuditRecord.action == "report.photo.view"))
        )
    assert [d.split()[0] for d in details] == ["redacted", "original", "redacted"]
