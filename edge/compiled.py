"""Small numeric loops compiled with numba.

For per-frame steps where numpy's call overhead dominates: arrays of a few dozen numbers,
handled for every track or zone of every frame.

One decorator, so every kernel is built alike: compiled on first call and cached on disk
beside its module (later processes load it in milliseconds), with the GIL released so the
analysis thread overlaps the network call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


def compiled(function: F) -> F:
    """``numba.njit`` with an on-disk cache and the GIL released, keeping the signature."""
    return cast(F, numba.njit(cache=True, nogil=True)(function))
