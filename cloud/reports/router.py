"""Open311 GeoReport v2 endpoints (JSON) over a :class:`~cloud.services.reports.ReportsService`.

Mount with ``app.include_router(router, prefix="/open311/v2")``; the intake service comes
through the ``Reports`` dependency (``cloud.api.deps``). Each path is
served with and without the ``.json`` format suffix. Every refusal is a 4xx with an Open311
error list: ``[{"code": 400, "description": "why"}]``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from cloud.api.deps import Reports
from cloud.reports.errors import RefusedError
from cloud.reports.open311 import Open311Error, RequestCreated, Service, ServiceRequest
from cloud.services.reports import Submission

logger = logging.getLogger(__name__)

MAX_LIST = 200
"""Most requests one ``GET requests`` returns."""
CONSENT_YES = frozenset({"true", "1", "yes", "on"})
"""Values of ``location_consent`` that mean yes (anything else, or absent, means no)."""


def refusal(exc: RefusedError) -> JSONResponse:
    """The Open311 error response of a refusal."""
    body = [Open311Error(code=exc.status, description=exc.reason).model_dump()]
    return JSONResponse(status_code=exc.status, content=body)


async def _read_limited(upload: UploadFile, max_bytes: int) -> bytes:
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise RefusedError(413, f"photo larger than {max_bytes} bytes")
    return data


def consents(value: str | None) -> bool:
    """Read the ``location_consent`` form field: only an explicit yes keeps the location."""
    return (value or "").strip().lower() in CONSENT_YES


class ReportForm(BaseModel):
    """The fields of ``POST requests`` (documentation: the form is read by hand, see below).

    FastAPI's per-field form parameters cost about 0.4 ms per request (profiled); the intake
    reads the form once with Starlette instead and documents it with this model.
    """

    model_config = ConfigDict(extra="forbid")

    service_code: str = Field(description="Category (see GET services).")
    description: str = Field(description="What happened (3 to 4000 characters).")
    lat: float | None = Field(default=None, description="Latitude, WGS84 (with long).")
    long: float | None = Field(default=None, description="Longitude, WGS84 (with lat).")
    address_string: str | None = Field(default=None, description="Address, when no lat/long.")
    email: str | None = Field(default=None, description="Contact (operators only).")
    first_name: str | None = Field(default=None, description="Contact (operators only).")
    last_name: str | None = Field(default=None, description="Contact (operators only).")
    phone: str | None = Field(default=None, description="Contact (operators only).")
    location_consent: bool = Field(
        default=False, description="Extension: keep the photo's GPS position (true/1/yes/on)."
    )
    media: bytes | None = Field(
        default=None,
        description="A photo (JPEG, PNG or WebP by content; multipart only).",
        json_schema_extra={"format": "binary"},
    )


MAX_FORM_FIELDS = 32
FORM_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            kind: {"schema": ReportForm.model_json_schema()}
            for kind in ("application/x-www-form-urlencoded", "multipart/form-data")
        },
    }
}


def _submission(request: Request, form: FormData, photo: bytes | None) -> Submission:
    def text(name: str) -> str | None:
        value = form.get(name)
        return value if isinstance(value, str) else None

    return Submission(
        client=request.client.host if request.client else "unknown",
        service_code=text("service_code"),
        description=text("description"),
        lat=text("lat"),
        long=text("long"),
        address_string=text("address_string"),
        email=text("email"),
        first_name=text("first_name"),
        last_name=text("last_name"),
        phone=text("phone"),
        photo=photo,
        location_consent=consents(text("location_consent")),
    )


router = APIRouter(tags=["open311"])
"""The Open311 routes (GeoReport v2); the intake service comes as a dependency."""


def _with_json_suffix(method: str, path: str, **kwargs: Any) -> Callable[[Any], Any]:
    """Register a route at ``path`` and, hidden from the schema, at ``path.json``."""

    def register(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        router.add_api_route(path, fn, methods=[method], **kwargs)
        router.add_api_route(
            f"{path}.json", fn, methods=[method], include_in_schema=False, **kwargs
        )
        return fn

    return register


@_with_json_suffix("GET", "/services", response_model=list[Service])
async def list_services(service: Reports) -> list[Service]:
    """The service list (report categories)."""
    return service.services()


@_with_json_suffix(
    "POST",
    "/requests",
    response_model=list[RequestCreated],
    status_code=201,
    openapi_extra=FORM_DOC,
)
async def create_request(request: Request, service: Reports) -> Any:
    """Receive a report (form or multipart, fields as in :class:`ReportForm`)."""
    try:
        async with request.form(max_files=1, max_fields=MAX_FORM_FIELDS) as form:
            media = form.get("media")
            photo = (
                await _read_limited(media, service.config.max_photo_bytes)
                if isinstance(media, UploadFile)
                else None
            )
            sub = _submission(request, form, photo)
        created = await run_in_threadpool(service.submit, sub)
    except HTTPException as exc:  # a malformed multipart body
        return refusal(RefusedError(400, f"unreadable form: {exc.detail}"))
    except RefusedError as exc:
        logger.info("report refused (%s): %s", exc.status, exc.reason)
        return refusal(exc)
    return [created]


@router.get("/requests/{request_id}", response_model=list[ServiceRequest])
async def get_request(request_id: str, service: Reports) -> Any:
    """One report by its ticket (``PA-000001`` or ``PA-000001.json``)."""
    try:
        return [service.get(request_id.removesuffix(".json"))]
    except RefusedError as exc:
        return refusal(exc)


@_with_json_suffix("GET", "/requests", response_model=list[ServiceRequest])
async def list_requests(
    service: Reports,
    service_request_id: str | None = None,
    service_code: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> Any:
    """Reports by ticket ids, or the latest by category and status."""
    ids = [t for t in (service_request_id or "").split(",") if t.strip()]
    return service.search(ids, service_code, status, max(1, min(limit, MAX_LIST)))
