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

from cloud.reports.classify import Category, Classification, EmergencyKind, Urgency
from cloud.reports.correlate import CameraEvidence, NearbyCamera
from cloud.reports.dispatch import DispatchTarget
from cloud.reports.normalize import Language

logger = logging.getLogger(__name__)

VIETNAM_TZ: Final = timezone(timedelta(hours=7), "ICT")
"""Times in replies are local (Vietnam has no daylight saving time)."""

MAX_CITED_EVENTS: Final = 6
"""At most this many camera events cited in a reply (summarised per camera)."""
MAX_CAMERAS_NAMED: Final = 3
"""At most this many cameras named in one reply."""


@dataclass(frozen=True, slots=True)
class Handling:
    """Who handles a category and the target time (a service policy, not a measurement)."""

    minutes: int
    handler_vi: str
    handler_en: str


HANDLING: Final[Mapping[Category, Handling]] = {
    Category.ACCIDENT: Handling(15, "CSGT và lực lượng cứu hộ", "traffic police and rescue"),
    # handler names are who handles the category in the operations centre's workflow; the
    # reply names a forwarding only when a dispatch target is configured (see compose_reply)
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

EMERGENCY_OPENING: Final[Mapping[EmergencyKind, tuple[str, str]]] = {
    EmergencyKind.INJURY: ("Có người bị thương", "Someone is hurt"),
    EmergencyKind.FIRE: ("Có cháy", "There is a fire"),
    EmergencyKind.TRAPPED: ("Có người mắc kẹt", "Someone is trapped"),
    EmergencyKind.VIOLENCE: ("Có bạo lực hoặc đe dọa", "There is violence or a threat"),
}

QUEUE_LINE: Final = (
    "Phiếu đã vào hàng chờ của Trung tâm điều hành giao thông",
    "Your ticket is in the queue of the traffic operations centre",
)
"""Said when no dispatch target is configured for the category: nothing was sent anywhere."""


@dataclass(frozen=True, slots=True)
class Reply:
    """The reply text and the stored events it cites."""

    language: Language
    text: str
    cited_event_ids: tuple[uuid.UUID, ...]


def duration(minutes: int, lang: Language) -> str:
    """A handling time as people say it ("4 tiếng", "30 phút", "3 ngày"; "4 hours")."""
    if minutes < 60:
        return f"{minutes} phút" if lang == "vi" else f"{minutes} minutes"
    if minutes < 1440:
        hours = minutes // 60
        return f"{hours} tiếng" if lang == "vi" else f"{hours} hour{'s' * (hours > 1)}"
    days = minutes // 1440
    return f"{days} ngày" if lang == "vi" else f"{days} day{'s' * (days > 1)}"


def _refs(events: Sequence[CameraEvidence]) -> str:
    return ", ".join(str(ev.event_id)[:8] for ev in events)


def _camera_summary(events: Sequence[CameraEvidence], lang: Language, tz: tzinfo) -> str:
    """One sentence for one camera: what it recorded, how often, when, with the event ids."""
    vi = lang == "vi"
    name = events[0].camera_label(lang)
    kinds = list(dict.fromkeys(ev.type for ev in events))
    what = (" và " if vi else " and ").join(
        EVENT_NAMES.get(k, (k, k))[0 if vi else 1] for k in kinds
    )
    times = sorted(ev.time.astimezone(tz) for ev in events)
    first, last = times[0].strftime("%H:%M"), times[-1].strftime("%H:%M")
    if len(events) == 1:
        when = f"lúc {first}" if vi else f"at {first}"
    else:
        count = f"{len(events)} lần " if vi else f"{len(events)} times "
        when = (f"{count}từ {first} đến {last}") if vi else f"{count}between {first} and {last}"
    word = "mã sự kiện" if vi else "event" + "s" * (len(events) > 1)
    if vi:
        return f"Camera {name} đã ghi nhận {what} {when} ({word} {_refs(events)})."
    return f"Camera {name} recorded {what} {when} ({word} {_refs(events)})."


def _camera_lines(
    evidence: Sequence[CameraEvidence],
    nearby: Sequence[NearbyCamera],
    lang: Language,
    tz: tzinfo,
    can_corroborate: bool,
) -> list[str]:
    vi = lang == "vi"
    if evidence:
        per_camera: dict[str, list[CameraEvidence]] = {}
        for ev in evidence:
            per_camera.setdefault(ev.camera_id, []).append(ev)
        return [_camera_summary(evs, lang, tz) for evs in per_camera.values()]
    if nearby and can_corroborate:
        names = ", ".join(c.label(lang) for c in nearby[:MAX_CAMERAS_NAMED])
        return [
            f"Camera gần vị trí này ({names}) chưa ghi nhận sự việc tương ứng."
            if vi
            else f"Cameras near this place ({names}) have not recorded a matching event."
        ]
    if not nearby:
        return [
            "Hiện chưa có camera nào bao quát vị trí này."
            if vi
            else "No camera covers this place at the moment."
        ]
    return []  # cameras nearby, but none can see this kind of problem: nothing to claim


def _emergency_line(classification: Classification, lang: Language) -> str:
    """The number that fits first ("Có người bị thương: hãy gọi ngay 115 (cấp cứu)")."""
    vi = lang == "vi"
    numbers = classification.emergency_numbers
    named = ", ".join(f"{n} ({NUMBER_NAMES[n][0 if vi else 1]})" for n in numbers)
    primary = classification.primary_emergency or classification.emergencies[0]
    why = EMERGENCY_OPENING[primary][0 if vi else 1]
    if vi:
        return f"KHẨN CẤP – {why}: hãy gọi ngay {named}."
    return f"EMERGENCY – {why}: call {named} now."


def _detail_line(lang: Language) -> str:
    if lang == "vi":
        return (
            "Chúng tôi chưa hiểu rõ nội dung phản ánh. Vui lòng gửi thêm chi tiết: chuyện gì "
            "đang xảy ra, ở đâu (tên đường, ngã tư), từ lúc nào, và ảnh nếu có."
        )
    return (
        "We could not understand the report. Please send more detail: what is happening, "
        "where (street, junction), since when, and a photo if you can."
    )


def _handling_line(category: Category, lang: Language, target: DispatchTarget | None) -> str:
    vi = lang == "vi"
    when = duration(HANDLING[category].minutes, lang)
    if target is not None:
        who = target.name_vi if vi else target.name_en
        return (
            f"Phiếu đang được chuyển tới {who}, thời gian xử lý dự kiến: {when}."
            if vi
            else f"It is being forwarded to {who}; expected handling time: {when}."
        )
    queue = QUEUE_LINE[0 if vi else 1]
    return (
        f"{queue}, thời gian xử lý dự kiến: {when}."
        if vi
        else f"{queue}; expected handling time: {when}."
    )


def compose_reply(
    ticket: str,
    classification: Classification,
    nearby: Sequence[NearbyCamera],
    evidence: Sequence[CameraEvidence],
    *,
    duplicate_of: str | None = None,
    dispatch: DispatchTarget | None = None,
    can_corroborate: bool = True,
    tz: tzinfo = VIETNAM_TZ,
) -> Reply:
    """Write the automatic reply to one report.

    Every sentence is true of the stored data: emergencies open with the number that fits;
    camera events are only those passed in (matching the report's kind), one sentence per
    camera, the camera named in the reply's language; a forwarding is named only when a
    dispatch target is configured, otherwise the ticket is said to be in the queue.

    Args:
        ticket: The ticket number given to the report.
        classification: What the classifier understood (decides the language).
        nearby: Cameras within the search radius (may be empty).
        evidence: Stored events from those cameras that match the report, newest first.
        duplicate_of: The existing ticket this report was linked to, if any.
        dispatch: The target the ticket is being sent to, if one is configured.
        can_corroborate: Whether any camera event type can show this kind of report (if not,
            nothing is said about the nearby cameras).
        tz: Time zone of the times quoted in the reply.

    Returns:
        The reply, in the report's language, with the ids of the events it cites.
    """
    lang = classification.language
    vi = lang == "vi"
    cited = list(evidence[:MAX_CITED_EVENTS])
    lines = []
    if classification.emergency_numbers:
        lines.append(_emergency_line(classification, lang))
    lines.append(
        f"Cảm ơn bạn đã phản ánh. Mã phiếu: {ticket}."
        if vi
        else f"Thank you for your report. Ticket number: {ticket}."
    )
    if classification.needs_detail:
        lines.append(_detail_line(lang))
    else:
        what = CATEGORY_NAMES[classification.category][0 if vi else 1]
        urgency = URGENCY_NAMES[classification.urgency][0 if vi else 1]
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
    lines.extend(_camera_lines(cited, nearby, lang, tz, can_corroborate))
    lines.append(_handling_line(classification.category, lang, dispatch))
    lines.append("Trân trọng." if vi else "Kind regards.")
    logger.debug("reply for ticket %s cites %d events", ticket, len(cited))
    return Reply(lang, " ".join(lines), tuple(ev.event_id for ev in cited))
