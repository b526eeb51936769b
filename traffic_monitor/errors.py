"""Errors that end a command with a clear message instead of a traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class UserFacingError(Exception):
    """An error caused by input or environment that a person can fix.

    The command line prints its message and exits with status 2; no traceback.
    """


def first_field_error(exc: ValidationError, root: str = "") -> str:
    """``field.path: message`` of a pydantic error's first failing field, for one-line errors.

    Args:
        exc: The validation error.
        root: What stands for the path when the error is about the whole object.
    """
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or root
    return f"{field}: {error['msg']}"
