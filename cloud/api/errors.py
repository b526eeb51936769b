"""The services' errors as HTTP answers: one status per error class, the message as detail."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from cloud.services.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
)

STATUS_OF: dict[type[Exception], int] = {
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
    InvalidRequestError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    AuthenticationError: status.HTTP_401_UNAUTHORIZED,
    RateLimitedError: status.HTTP_429_TOO_MANY_REQUESTS,
}
"""Service error class → HTTP status (subclasses answer as their base)."""


async def _answer(request: Request, exc: Exception) -> JSONResponse:
    """``{"detail": message}`` with the status of the error's class, as HTTPException does."""
    code = next(code for cls, code in STATUS_OF.items() if isinstance(exc, cls))
    return JSONResponse({"detail": str(exc)}, status_code=code)


def install(app: FastAPI) -> None:
    """Answer every service error raised by a route with its HTTP status."""
    for cls in STATUS_OF:
        app.add_exception_handler(cls, _answer)
