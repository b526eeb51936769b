"""Open311 GeoReport v2 endpoints (JSON) over a :class:`~cloud.reports.intake.ReportsService`.

Mount with ``app.include_router(build_router(service), prefix="/open311/v2")``. Each path is
served with and without the ``.json`` format suffix. Every refusal is a 4xx with an Open311
error list: ``[{"code": 400, "description": "why"}]``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from cloud.reports.errors import RefusedError
from cloud.reports.intake import ReportsService, Submission
from cloud.reports.open311 import Open311Error, RequestCreated, Service, ServiceRequest

logger = logging.getLogger(__name__)

OptionalForm = Annotated[str | None, Form()]
MAX_LIST = 200
"""Most requests one ``GET requests`` returns."""


def refusal(exc: RefusedError) -> JSONResponse:
    """The Open311 error response of a refusal."""
    body = [Open311Error(code=exc.status, description=exc.reason).model_dump()]
    return JSONResponse(status_code=exc.status, content=body)


async def _read_limited(upload: UploadFile, max_bytes: int) -> bytes:
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise RefusedError(413, f"photo larger than {max_bytes} bytes")
    return data


def build_router(service: ReportsService) -> APIRouter:
    """The Open311 router bound to one intake service.

    Args:
        service: The intake (storage, cameras, limits).

    Returns:
        An ``APIRouter`` tagged ``open311``.
    """
    router = APIRouter(tags=["open311"])

    def both(method: str, path: str, **kwargs: Any) -> Callable[[Any], Any]:
        def register(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            router.add_api_route(path, fn, methods=[method], **kwargs)
            router.add_api_route(
                f"{path}.json", fn, methods=[method], include_in_schema=False, **kwargs
            )
            return fn

        return register

    @both("GET", "/services", response_model=list[Service])
    async def list_services() -> list[Service]:
        return service.services()

    @both("POST", "/requests", response_model=list[RequestCreated], status_code=201)
    async def create_request(
        request: Request,
        *,
        service_code: OptionalForm = None,
        description: OptionalForm = None,
        lat: OptionalForm = None,
        long: OptionalForm = None,
        address_string: OptionalForm = None,
        email: OptionalForm = None,
        first_name: OptionalForm = None,
        last_name: OptionalForm = None,
        phone: OptionalForm = None,
        media: Annotated[UploadFile | None, File()] = None,
    ) -> Any:
        try:
            photo = (
                await _read_limited(media, service.config.max_photo_bytes)
                if media is not None
                else None
            )
            created = await run_in_threadpool(
                service.submit,
                Submission(
                    client=request.client.host if request.client else "unknown",
                    service_code=service_code,
                    description=description,
                    lat=lat,
                    long=long,
                    address_string=address_string,
                    email=email,
                    first_name=first_name,
                    last_name=last_name,
                    phone=phone,
                    photo=photo,
                ),
            )
        except RefusedError as exc:
            logger.info("report refused (%s): %s", exc.status, exc.reason)
            return refusal(exc)
        return [created]

    @router.get("/requests/{request_id}", response_model=list[ServiceRequest])
    async def get_request(request_id: str) -> Any:
        try:
            return [service.get(request_id.removesuffix(".json"))]
        except RefusedError as exc:
            return refusal(exc)

    @both("GET", "/requests", response_model=list[ServiceRequest])
    async def list_requests(
        service_request_id: str | None = None,
        service_code: str | None = None,
        status: str | None = None,
        limit: int = 50,
    ) -> Any:
        ids = [t for t in (service_request_id or "").split(",") if t.strip()]
        return service.search(ids, service_code, status, max(1, min(limit, MAX_LIST)))

    return router
