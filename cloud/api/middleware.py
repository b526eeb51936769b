"""Security headers on every response, a cap on request bodies, 422s that can be written.

Pure ASGI middleware (not Starlette's ``BaseHTTPMiddleware``): it wraps ``send`` and
``receive`` only, so streaming responses (the live stream) pass through untouched.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


def content_security_policy(tile_origin: str | None) -> str:
    """The CSP of every response: the page's own files only (plus the map's tile server).

    ``img-src`` adds ``data:`` and ``blob:`` (evidence images are shown from blobs) and the
    configured tile server's origin, and only it.
    """
    tiles = f" {tile_origin}" if tile_origin else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' blob: data:{tiles}; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def security_headers(tile_origin: str | None) -> list[tuple[bytes, bytes]]:
    """The headers added to every response (a route's own value of one of them is kept)."""
    return [
        (b"content-security-policy", content_security_policy(tile_origin).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]


class BodyTooLargeError(Exception):
    """A request body over its cap (raised from ``receive``)."""


class HardeningMiddleware:
    """Adds the security headers to every HTTP response and caps request bodies.

    A body whose ``Content-Length`` is over the cap is refused with 413 before the app runs;
    a chunked body is counted as it is read and refused the same way once over it.

    Args:
        app: The wrapped application.
        tile_origin: Origin of the map's tile server, for ``img-src`` (None: no tiles).
        max_body_bytes: Cap of request bodies.
        large_bodies: (path prefix, cap) pairs for routes that take more (photo uploads).
    """

    def __init__(
        self,
        app: ASGIApp,
        tile_origin: str | None,
        max_body_bytes: int,
        large_bodies: tuple[tuple[str, int], ...] = (),
    ) -> None:
        self.app = app
        self.headers = security_headers(tile_origin)
        self.max_body_bytes = max_body_bytes
        self.large_bodies = large_bodies

    def _cap(self, path: str) -> int:
        for prefix, cap in self.large_bodies:
            if path.startswith(prefix):
                return cap
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection (HTTP gets the headers and the cap)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self._cap(scope.get("path", ""))
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        if _declared_length(scope) > cap:
            await _too_large(cap, send_with_headers)
            return
        seen = 0

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise BodyTooLargeError
            return message

        try:
            await self.app(scope, counted_receive, send_with_headers)
        except BodyTooLargeError:
            if started:
                raise
            await _too_large(cap, send_with_headers)


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _too_large(cap: int, send: Send) -> None:
    response = JSONResponse(
        {"detail": f"request body larger than {cap} bytes"},
        status_code=status.HTTP_413_CONTENT_TOO_LARGE,
    )
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:  # pragma: no cover - a JSONResponse never reads
    return {"type": "http.disconnect"}


def _finite(value: Any) -> Any:
    """``value`` with non-finite floats written as strings (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with where and what for each error, never the input itself.

    FastAPI's own answer echoes each refused input, which cannot be written when it is NaN
    (the 500s of the hostile-input probe) and would send back a refused password or a
    100 MB value.
    """
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [
        {"type": e.get("type"), "loc": _finite(list(e.get("loc", ()))), "msg": e.get("msg")}
        for e in errors[:20]
    ]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def install(app: FastAPI, tile_origin: str | None, max_body_bytes: int, photo_bytes: int) -> None:
    """Add the middleware and the 422 handler to the app."""
    app.add_exception_handler(RequestValidationError, validation_error)
    form_overhead = 256 * 1024  # the report's text fields and multipart boundaries
    app.add_middleware(
        HardeningMiddleware,
        tile_origin=tile_origin,
        max_body_bytes=max_body_bytes,
        large_bodies=(("/open311/", photo_bytes + form_overhead),),
    )
