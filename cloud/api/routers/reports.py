"""Citizen reports, operators' side: list, confirm, answer, merge, photo (audited).

The citizens' side is the public Open311 router (:mod:`cloud.reports.router`) at
``/open311/v2``; what operators change here is what ``GET requests/{id}`` shows.
"""

from __future__ import annotations

import logging
from typing import Annotated, NoReturn

from fastapi import APIRouter, HTTPException, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from cloud.api.deps import Desk, Operator, Reports, Viewer
from cloud.db import Role
from cloud.reports.errors import RefusedError
from cloud.reports.open311 import ServiceRequest
from cloud.reports.views import MergeIn, OperatorStatus, ReportView, StatusIn

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["reports"])


def _refused(exc: RefusedError) -> NoReturn:
    raise HTTPException(exc.status, exc.reason) from exc


@router.get("/reports", response_model=list[ReportView])
async def list_reports(
    reports: Reports,
    who: Viewer,
    status: OperatorStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReportView]:
    """Reports newest first, with category, urgency, reply and cited camera events.

    Contact details are included for operators and admins only.
    """
    with_contact = who.allows(Role.OPERATOR)
    return await run_in_threadpool(reports.operator_list, status, limit, with_contact)


@router.get("/reports/emergencies", response_model=list[ReportView])
async def list_emergencies(
    reports: Reports,
    who: Viewer,
    include_acknowledged: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReportView]:
    """Open emergency reports, unacknowledged first then newest first (the page's alarm list).

    Each has ``emergency_kinds``, ``emergency_numbers`` and ``acknowledged_at``/``_by``; the page
    keeps its alarm on while any listed report has ``acknowledged_at`` null.
    """
    return await run_in_threadpool(reports.emergencies, include_acknowledged, limit)


@router.post("/reports/{ticket}/acknowledge", response_model=ReportView)
def acknowledge_report(ticket: str, desk: Desk, who: Operator) -> ReportView:
    """Acknowledge an emergency report (stops its alarm); audited ``report.acknowledge``."""
    try:
        return desk.acknowledge(ticket, who)
    except RefusedError as exc:
        _refused(exc)


@router.get("/reports/{ticket}", response_model=ReportView)
async def get_report(ticket: str, reports: Reports, who: Viewer) -> ReportView:
    """One report (contact details for operators and admins only)."""
    try:
        return await run_in_threadpool(reports.operator_get, ticket, who.allows(Role.OPERATOR))
    except RefusedError as exc:
        _refused(exc)


@router.post("/reports/{ticket}/status", response_model=ServiceRequest)
def set_report_status(ticket: str, body: StatusIn, desk: Desk, who: Operator) -> ServiceRequest:
    """Confirm, reopen or close a report and answer the citizen; audited."""
    try:
        return desk.set_status(ticket, body.status, body.notes, who)
    except RefusedError as exc:
        _refused(exc)


@router.post("/reports/{ticket}/merge", response_model=ServiceRequest)
def merge_report(ticket: str, body: MergeIn, desk: Desk, who: Operator) -> ServiceRequest:
    """Link a report to another ticket of the same incident (closes it); audited."""
    try:
        return desk.merge(ticket, body.into, body.notes, who)
    except RefusedError as exc:
        _refused(exc)


@router.get(
    "/reports/{ticket}/photo",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def get_report_photo(
    ticket: Annotated[str, Path(max_length=32)],
    desk: Desk,
    who: Operator,
    original: bool = False,
) -> Response:
    """The report's photo with heads and plates pixelated (operators and admins).

    ``original=true``: the photo as received (re-encoded, no metadata), admins only. Every
    view is audited, saying which version was seen.
    """
    if original and not who.allows(Role.ADMIN):
        raise HTTPException(403, "the original photo needs the admin role")
    try:
        photo = desk.photo(ticket, original, who)
    except RefusedError as exc:
        _refused(exc)
    return Response(
        photo.jpeg,
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Redacted": photo.redacted or "no (original)"},
    )
