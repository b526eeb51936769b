"""Citizen reports, operators' side: list, confirm, answer, merge, photo (audited).

The citizens' side is the public Open311 router (:mod:`cloud.reports.router`) at
``/open311/v2``; what operators change here is what ``GET requests/{id}`` shows.
"""

from __future__ import annotations

import logging
from typing import Annotated, NoReturn

from fastapi import APIRouter, HTTPException, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from cloud.api.accounts import audit
from cloud.api.deps import Db, Operator, State, Viewer
from cloud.api.photos import redacted_photo
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
    state: State,
    who: Viewer,
    status: OperatorStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReportView]:
    """Reports newest first, with category, urgency, reply and cited camera events.

    Contact details are included for operators and admins only.
    """
    with_contact = who.allows(Role.OPERATOR)
    return await run_in_threadpool(state.reports.operator_list, status, limit, with_contact)


@router.get("/reports/emergencies", response_model=list[ReportView])
async def list_emergencies(
    state: State,
    who: Viewer,
    include_acknowledged: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReportView]:
    """Open emergency reports, unacknowledged first then newest first (the page's alarm list).

    Each has ``emergency_kinds``, ``emergency_numbers`` and ``acknowledged_at``/``_by``; the page
    keeps its alarm on while any listed report has ``acknowledged_at`` null.
    """
    return await run_in_threadpool(state.reports.emergencies, include_acknowledged, limit)


@router.post("/reports/{ticket}/acknowledge", response_model=ReportView)
def acknowledge_report(ticket: str, state: State, db: Db, who: Operator) -> ReportView:
    """Acknowledge an emergency report (stops its alarm); audited ``report.acknowledge``."""
    try:
        out = state.reports.acknowledge(ticket, who.name)
    except RefusedError as exc:
        _refused(exc)
    audit(db, who.name, "report.acknowledge", f"report:{ticket}", f"by {out.acknowledged_by}")
    db.commit()
    return out


@router.get("/reports/{ticket}", response_model=ReportView)
async def get_report(ticket: str, state: State, who: Viewer) -> ReportView:
    """One report (contact details for operators and admins only)."""
    try:
        return await run_in_threadpool(
            state.reports.operator_get, ticket, who.allows(Role.OPERATOR)
        )
    except RefusedError as exc:
        _refused(exc)


@router.post("/reports/{ticket}/status", response_model=ServiceRequest)
def set_report_status(
    ticket: str, body: StatusIn, state: State, db: Db, who: Operator
) -> ServiceRequest:
    """Confirm, reopen or close a report and answer the citizen; audited."""
    try:
        out = state.reports.update_status(ticket, body.status, body.notes)
    except RefusedError as exc:
        _refused(exc)
    audit(db, who.name, "report.status", f"report:{ticket}", f"{body.status} {body.notes or ''}")
    db.commit()
    return out


@router.post("/reports/{ticket}/merge", response_model=ServiceRequest)
def merge_report(ticket: str, body: MergeIn, state: State, db: Db, who: Operator) -> ServiceRequest:
    """Link a report to another ticket of the same incident (closes it); audited."""
    try:
        out = state.reports.merge(ticket, body.into, body.notes)
    except RefusedError as exc:
        _refused(exc)
    audit(db, who.name, "report.merge", f"report:{ticket}", f"into {out.duplicate_of}")
    db.commit()
    return out


@router.get(
    "/reports/{ticket}/photo",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def get_report_photo(
    ticket: Annotated[str, Path(max_length=32)],
    state: State,
    db: Db,
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
        content = state.reports.photo(ticket)
    except RefusedError as exc:
        _refused(exc)
    detail, found = "original", ""
    if not original:  # cloud/api/photos.py (photo privacy, issue 28.7)
        photo = redacted_photo(db, state.redactor, ticket, content)
        content, found = photo.jpeg, f"heads={photo.heads} plates={photo.plates}"
        detail = f"redacted {found} ({photo.method})"
    audit(db, who.name, "report.photo.view", f"report:{ticket}", detail)
    db.commit()
    return Response(
        content,
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Redacted": found or "no (original)"},
    )
