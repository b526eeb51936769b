from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cloud.db import EventRecord
from cloud.reports.classify import Category, classify
from cloud.reports.compose import compose_reply
from cloud.reports.correlate import (
    CameraSite,
    haversine_m,
    nearby_cameras,
    recent_events,
)
from tests.databases import migrated_sqlite

NOW = datetime(2026, 11, 23, 1, 15, tzinfo=UTC)  # 08:15 in Vietnam
# Hanoi: Ngã ba Huế and surroundings
CAMERAS = {
    "cam-nga-ba-hue": CameraSite(21.0117, 105.8506, "Ngã ba Huế"),
    "cam-kim-lien": CameraSite(21.0060, 105.8410, "Kim Liên"),  # ~1.2 km away
    "cam-long-bien": CameraSite(21.0437, 105.8593, "Long Biên"),  # ~3.6 km away
}
REPORT = (21.0120, 105.8510)


def _event(camera_id: str, type_: str, minutes_ago: float) -> EventRecord:
    t = NOW - timedelta(minutes=minutes_ago)
    return EventRecord(
        event_id=uuid.uuid4(),
        schema_version=1,
        site_id="hanoi",
        node_id="node-1",
        camera_id=camera_id,
        type=type_,
        phase="start",
        severity="medium",
        time=t,
        received_at=t,
        rule="r",
        track_id=None,
        object_class=None,
        confidence=None,
        payload={},
    )


@pytest.fixture
def session(tmp_path):
    store = migrated_sqlite(tmp_path / "correlate.sqlite3")
    with store.session() as s:
        s.add_all(
            [
                _event("cam-nga-ba-hue", "congestion", 3),  # 08:12 local: cited
                _event("cam-nga-ba-hue", "congestion", 90),  # too old
                _event("cam-nga-ba-hue", "count", 1),  # wrong type
                _event("cam-long-bien", "congestion", 1),  # out of range
                _event("cam-kim-lien", "stopped_vehicle", 10),
            ]
        )
        s.commit()
        yield s
    store.dispose()


def test_haversine_known_distances():
    assert haversine_m(0, 0, 1, 0) == pytest.approx(111_195, rel=1e-3)
    assert haversine_m(21.0285, 105.8542, 10.7769, 106.7009) == pytest.approx(1_138_000, rel=0.01)
    assert haversine_m(10, 20, 10, 20) == 0


def test_nearby_cameras_sorted_within_radius():
    near = nearby_cameras(*REPORT, CAMERAS, radius_m=1500)
    assert [c.camera_id for c in near] == ["cam-nga-ba-hue", "cam-kim-lien"]
    assert near[0].distance_m < 100 < near[1].distance_m
    assert nearby_cameras(*REPORT, CAMERAS, radius_m=50) == []


@pytest.mark.parametrize(("lat", "lon"), [(91, 0), (0, 181), (float("nan"), 0), (0, float("inf"))])
def test_invalid_coordinates_are_refused(lat, lon):
    with pytest.raises(ValueError, match="itude"):
        nearby_cameras(lat, lon, CAMERAS, radius_m=500)


def test_recent_events_match_type_window_and_cameras(session):
    near = nearby_cameras(*REPORT, CAMERAS, radius_m=1500)
    found = recent_events(session, near, Category.CONGESTION, NOW)
    assert [(e.camera_id, e.type) for e in found] == [("cam-nga-ba-hue", "congestion")]
    assert found[0].time == NOW - timedelta(minutes=3)
    crash = recent_events(session, near, Category.ACCIDENT, NOW)
    assert [(e.camera_id, e.type) for e in crash] == [("cam-kim-lien", "stopped_vehicle")]
    assert recent_events(session, near, Category.OTHER, NOW) == []
    assert recent_events(session, near, Category.DANGEROUS_DRIVING, NOW) == []


def test_vietnamese_reply_cites_only_stored_events(session):
    result = classify("kẹt xe quá ở ngã ba Huế")
    near = nearby_cameras(*REPORT, CAMERAS, radius_m=1500)
    found = recent_events(session, near, result.category, NOW)
    reply = compose_reply("HN-000123", result, near, found)
    assert reply.language == "vi"
    assert "HN-000123" in reply.text
    assert "ùn tắc giao thông" in reply.text
    assert "Camera Ngã ba Huế đã ghi nhận ùn tắc lúc 08:12" in reply.text
    assert "30 phút" in reply.text
    assert "gọi ngay" not in reply.text  # no emergency numbers
    stored = set(session.scalars(select(EventRecord.event_id)))
    assert reply.cited_event_ids and set(reply.cited_event_ids) <= stored
    refs = re.findall(r"mã sự kiện ([0-9a-f]{8})", reply.text)
    assert sorted(refs) == sorted(str(i)[:8] for i in reply.cited_event_ids)


def test_reply_without_evidence_claims_nothing():
    result = classify("kẹt xe ở ngã tư")
    near = nearby_cameras(*REPORT, CAMERAS, radius_m=1500)
    reply = compose_reply("T-1", result, near, [])
    assert reply.cited_event_ids == ()
    assert "chưa ghi nhận" in reply.text
    assert "đã ghi nhận" not in reply.text
    none = compose_reply("T-2", result, [], [])
    assert "chưa có camera nào" in none.text
    # a broken signal has no camera event that shows it: nothing is said about the cameras
    signal = classify("đèn đỏ hư ở ngã tư")
    quiet = compose_reply("T-3", signal, near, [], can_corroborate=False)
    assert "Camera" not in quiet.text and "camera" not in quiet.text


def test_english_emergency_reply_and_duplicate():
    result = classify("a truck hit a pedestrian, he is bleeding")
    reply = compose_reply("T-9", result, [], [], duplicate_of="T-7")
    assert reply.language == "en"
    assert reply.text.startswith("EMERGENCY – Someone is hurt: call 115 (ambulance), 113 (police)")
    assert "Thank you for your report. Ticket number: T-9." in reply.text
    assert "linked to ticket T-7" in reply.text
    assert "No camera covers this place" in reply.text
    assert "15 minutes" in reply.text


def _evidence(camera, type_, minutes_ago):
    from cloud.reports.correlate import CameraEvidence

    return CameraEvidence(
        event_id=uuid.uuid4(),
        camera_id=camera.camera_id,
        camera_name=camera.name,
        distance_m=camera.distance_m,
        type=type_,
        severity="high",
        time=NOW - timedelta(minutes=minutes_ago),
        camera=camera,
    )


def test_wrong_way_report_cites_wrong_way_events_once_per_camera(session):
    for minutes in (2, 6, 11):
        session.add(_event("cam-nga-ba-hue", "wrong_way", minutes))
    session.add(_event("cam-nga-ba-hue", "speeding", 1))
    session.commit()
    sites = {
        "cam-nga-ba-hue": CameraSite(
            21.0117, 105.8506, "Hue junction", "Ngã ba Huế", "Hue junction"
        )
    }
    near = nearby_cameras(*REPORT, sites, radius_m=1500)
    result = classify("có xe máy đi ngược chiều ở ngã ba Huế, nguy hiểm quá")
    assert result.subtype == "wrong_way"
    found = recent_events(session, near, result.category, NOW, subtype=result.subtype)
    assert {e.type for e in found} == {"wrong_way"} and len(found) == 3
    reply = compose_reply("T-4", result, near, found)
    assert reply.text.count("Camera Ngã ba Huế") == 1  # one sentence for the camera
    assert "3 lần từ 08:04 đến 08:13" in reply.text
    assert "Hue junction" not in reply.text  # the Vietnamese name in a Vietnamese reply
    assert "tốc độ" not in reply.text  # the speeding event is not cited
    english = classify("a motorbike is driving the wrong way near Hue junction")
    en_reply = compose_reply("T-5", english, near, found)
    assert "Camera Hue junction recorded a wrong-way vehicle 3 times" in en_reply.text


def test_reply_promises_only_what_is_configured():
    from cloud.reports.dispatch import DispatchTarget

    hazard = classify("cây đổ chắn ngang đường Trần Phú")
    queued = compose_reply("T-6", hazard, [], [])
    assert "hàng chờ của Trung tâm điều hành" in queued.text
    assert "chuyển tới" not in queued.text
    assert "4 tiếng" in queued.text and "giờ" not in queued.text
    target = DispatchTarget(
        url="http://127.0.0.1:9/x", name_vi="Đội quản lý đường bộ số 2", name_en="Road team 2"
    )
    sent = compose_reply("T-7", hazard, [], [], dispatch=target)
    assert "đang được chuyển tới Đội quản lý đường bộ số 2" in sent.text


def test_emergency_reply_starts_with_the_number():
    reply = compose_reply("T-8", classify("xe tải bốc cháy trên cầu Rồng"), [], [])
    assert reply.text.startswith("KHẨN CẤP – Có cháy: hãy gọi ngay 114 (cứu hỏa, cứu nạn).")
    injury = compose_reply("T-9", classify("a car hit a kid, he is bleeding"), [], [])
    assert injury.text.startswith("EMERGENCY – Someone is hurt: call 115 (ambulance)")


def test_unintelligible_report_gets_a_more_detail_reply():
    reply = compose_reply("T-10", classify("asdfgh"), [], [])
    assert "Vui lòng gửi thêm chi tiết" in reply.text or "Please send more detail" in reply.text
    assert "Chúng tôi hiểu đây là" not in reply.text
