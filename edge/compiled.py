"""Small numeric loops compiled with numba.

For per-frame steps where numpy's call overhead dominates: arrays of a few dozen numbers,
handled for every track or zone of every frame.

One decorator, so every kernel is built alike: compiled on first call and cached on disk
beside its module (later processes load it in milliseconds), with the GIL released so the
analysis thread overlaps the network call.

numba is a dependency of the project. Where it cannot be installed (an offline GPU server
with a few megabytes of wheels to spare: numba's llvmlite alone is 42 to 56 MB), the kernels
run as the plain Python functions they are written as: the same results, slower, said once in
the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar, cast

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def _numba() -> ModuleType | None:
    try:
        import numba
    except ImportError:
        logger.warning("numba is not installed: the per-frame kernels run as plain Python")
        return None
    module: ModuleType = numba
    return module


_NUMBA = _numba()


def compiled(function: F) -> F:
    """``numba.njit`` with an on-disk cache and the GIL released, keeping the signature.

    Without numba, ``function`` itself.
    """
    if _NUMBA is None:
        return function
    return cast(F, _NUMBA.njit(cache=True, nogil=True)(function))
