"""Errors the services raise; the HTTP layer maps each to one status (``cloud.api.errors``)."""

from __future__ import annotations


class NotFoundError(LookupError):
    """The object asked for does not exist (HTTP 404)."""


class ConflictError(ValueError):
    """The request is valid but the object's current state does not allow it (HTTP 409)."""


class InvalidRequestError(ValueError):
    """The request's values do not make sense together (HTTP 422)."""


class AuthenticationError(PermissionError):
    """Wrong or missing credentials (HTTP 401)."""


class RateLimitedError(RuntimeError):
    """Too many attempts in the window; try again later (HTTP 429)."""
