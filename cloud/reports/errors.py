"""The one error type of the intake: a refusal with its HTTP status and a reason for people."""

from __future__ import annotations


class RefusedError(ValueError):
    """A report (or part of it) is refused; ``status`` is the 4xx to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
