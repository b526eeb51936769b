"""The automatic reply to a citizen report: a pure function over what is known.

Every sentence comes from one of: the ticket, the classification, the handling policy below,
or a stored camera event passed in as :class:`~cloud.reports.correlate.CameraEvidence`. The
reply lists the event ids it cites (``Reply.cited_event_ids``), so each camera claim can be
checked against the store; nothing else about the scene is ever asserted.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta, timezone, tzinfo
from typing import Final

from cloud.reports.classify import Category, Classification, Urgency
from cloud.reports.correlate import CameraEvidence, NearbyCamera
from cloud.reports.normalize import Language

logger = logging.getLogger(__name__)

VIETNAM_TZ: Final = timezone(timedelta(hours=7), "ICT")
"""Times in replies are local (Vietnam has no daylight saving time)."""

MAX_CITED_EVENTS: Final = 3
"""At most this many camera events in a reply (short replies; the rest are in the ticket)."""


@dataclass(frozen=True, slots=True)
class Handling:
    """Who handles a category and the target time (a service policy, not a measurement)."""

    minutes: int
    handler_vi: str
    handler_en: str


HANDLING: Final[Mapping[Category, Handling]] = {
    Category.ACCIDENT: Handling(15, "CSGT và lực lượng cứu hộ", "traffic police and rescue"),
    Category.CONGESTION: Handling(
        30, "Trung tâm điều hành giao thông", "the traffic control centre"
    ),
    Category.SIGNAL_FAULT: Handling(
        240, "đơn vị quản lý đèn tín hiệu", "the traffic-signal maintenance team"
    ),
    Category.ILLEGAL_PARKING: Handling(120, "CSGT và trật tự đô thị", "traffic police"),
    Category.DANGEROUS_DRIVING: Handling(1440, "CSGT", "traffic police"),
    Category.ROAD_HAZARD: Handling(240, "đơn vị quản lý đường bộ", "the road maintenance team"),
    Category.OTHER: Handling(4320, "bộ phận tiếp nhận", "the service desk"),
}

CATEGORY_NAMES: Final[Mapping[Category, tuple[str, str]]] = {
    Category.ACCIDENT: ("tai nạn giao thông", "a traffic accident"),
    Category.CONGESTION: ("ùn tắc giao thông", "traffic congestion"),
    Category.SIGNAL_FAULT: ("đèn tín hiệu giao thông bị hỏng", "a faulty traffic signal"),
    Category.ILLEGAL_PARKING: ("dừng, đỗ xe sai quy định", "illegal parking or stopping"),
    Category.DANGEROUS_DRIVING: (
        "lái xe nguy hiểm hoặc đi ngược chiều",
        "dangerous or wrong-way driving",
    ),
    Category.ROAD_HAZARD: ("hư hỏng mặt đường hoặc vật cản", "road damage or an obstacle"),
    Category.OTHER: ("phản ánh khác", "another request"),
}

URGENCY_NAMES: Final[Mapping[Urgency, tuple[str, str]]] = {
    Urgency.EMERGENCY: ("khẩn cấp", "emergency"),
    Urgency.HIGH: ("cao", "high"),
    Urgency.NORMAL: ("bình thường", "normal"),
}

EVENT_NAMES: Final[Mapping[str, tuple[str, str]]] = {
    "congestion": ("ùn tắc", "congestion"),
    "stopped_vehicle": ("xe dừng bất thường", "a stopped vehicle"),
    "illegal_stop": ("xe dừng đỗ sai quy định", "an illegally stopped vehicle"),
    "wrong_way": ("xe đi ngược chiều", "a wrong-way vehicle"),
    "speeding": ("xe chạy quá tốc độ", "a speeding vehicle"),
    "red_light": ("xe vượt đèn đỏ", "a red-light violation"),
    "pedestrian_on_carriageway": ("người đi bộ dưới lòng đường", "a pedestrian on the roadway"),
}

NUMBER_NAMES: Final[Mapping[str, tuple[str, str]]] = {
    "113": ("công an", "police"),
    "114": ("cứu hỏa, cứu nạn", "fire and rescue"),
    "115": ("cấp cứu", "ambulance"),
}


@dataclass(frozen=True, slots=True)
class Reply:
    """The reply text and the stored events it cites."""

    language: Language
    text: str
    cited_event_ids: tuple[uuid.UUID, ...]


def _duration(minutes: int, lang: Language) -> str:
    if minutes < 60:
        return f"{minutes} phút" if lang == "vi" else f"{minutes} minutes"
    if minutes < 1440:
        hours = minutes // 60
        return f"{hours} giờ" if lang == "vi" else f"{hours} hour{'s' * (hours > 1)}"
    days = minutes // 1440
    return f"{days} ngày" if lang == "vi" else f"{days} day{'s' * (days > 1)}"


def _camera_lines(
    evidence: Sequence[CameraEvidence], nearby: Sequence[NearbyCamera], lang: Language, tz: tzinfo
) -> list[str]:
    vi = lang == "vi"
    if evidence:
        lines = []
        for ev in evidence:
            what = EVENT_NAMES.get(ev.type, (ev.type, ev.type))[0 if vi else 1]
            at = ev.time.astimezone(tz).strftime("%H:%M")
            ref = str(ev.event_id)[:8]
            lines.append(
                f"Camera {ev.camera_name} đã ghi nhận {what} lúc {at} (mã sự kiện {ref})."
                if vi
                else f"Camera {ev.camera_name} recorded {what} at {at} (event {ref})."
            )
        return lines
    if nearby:
        names = ", ".join(c.name for c in nearby[:3])
        return [
            f"Camera gần vị trí này ({names}) chưa ghi nhận sự việc tương ứng."
            if vi
            else f"Cameras near this place ({names}) have not recorded a matching event."
        ]
    return [
        "Hiện chưa có camera nào bao quát vị trí này."
        if vi
        else "No camera covers this place at the moment."
    ]


def _emergency_line(numbers: Sequence[str], lang: Language) -> str:
    vi = lang == "vi"
    named = ", ".join(f"{n} ({NUMBER_NAMES[n][0 if vi else 1]})" for n in numbers)
    if vi:
        return f"Nếu có người bị thương hoặc cháy nổ, hãy gọi ngay {named}."
    return f"If anyone is hurt or there is a fire, call {named} now."


def compose_reply(
    ticket: str,
    classification: Classification,
    nearby: Sequence[NearbyCamera],
    evidence: Sequence[CameraEvidence],
    *,
    duplicate_of: str | None = None,
    tz: tzinfo = VIETNAM_TZ,
) -> Reply:
    """Write the automatic reply to one report.

    Args:
        ticket: The ticket number given to the report.
        classification: What the classifier understood (decides the language).
        nearby: Cameras within the search radius (may be empty).
        evidence: Stored events from those cameras that match the category, newest first.
        duplicate_of: The existing ticket this report was linked to, if any.
        tz: Time zone of the times quoted in the reply.

    Returns:
        The reply, in the report's language, with the ids of the events it cites.
    """
    lang = classification.language
    vi = lang == "vi"
    cited = list(evidence[:MAX_CITED_EVENTS])
    handling = HANDLING[classification.category]
    what = CATEGORY_NAMES[classification.category][0 if vi else 1]
    urgency = URGENCY_NAMES[classification.urgency][0 if vi else 1]
    lines = [
        f"Cảm ơn bạn đã phản ánh. Mã phiếu: {ticket}."
        if vi
        else f"Thank you for your report. Ticket number: {ticket}."
    ]
    if classification.emergency_numbers:
        lines.append(_emergency_line(classification.emergency_numbers, lang))
    lines.append(
        f"Chúng tôi hiểu đây là: {what} (mức độ: {urgency})."
        if vi
        else f"We understood: {what} (urgency: {urgency})."
    )
    if duplicate_of is not None:
        lines.append(
            f"Sự việc này đã được phản ánh; phiếu của bạn được gộp vào phiếu {duplicate_of}."
            if vi
            else f"This was already reported; your report is linked to ticket {duplicate_of}."
        )
    lines.extend(_camera_lines(cited, nearby, lang, tz))
    handler = handling.handler_vi if vi else handling.handler_en
    lines.append(
        f"Phiếu đã được chuyển tới {handler}, thời gian xử lý dự kiến: "
        f"{_duration(handling.minutes, lang)}. Trân trọng."
        if vi
        else f"It has been passed to {handler}; expected handling time: "
        f"{_duration(handling.minutes, lang)}. Kind regards."
    )
    logger.debug("reply for ticket %s cites %d events", ticket, len(cited))
    return Reply(lang, " ".join(lines), tuple(ev.event_id for ev in cited))
