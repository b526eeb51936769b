"""Rate limits that every server process shares: the ``limits`` library over one storage.

``memory://`` (the default) keeps the counts in the process: right for one ``cloud serve``
process. With several (``cloud serve --workers N``) each process would count alone and a
client would get N times its limit, so the counts must live in a storage every process
reaches: ``redis://host:6379/0`` (``TM_API_RATE_LIMIT_STORAGE``). The limits are moving
windows: a client may make ``amount`` attempts in any ``window_s`` seconds.

When the shared storage cannot be reached, the limit is not applied (the attempt is
allowed, logged and counted): a citizen's report of an accident must not be refused because
the limiter's storage is down.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

logger = logging.getLogger(__name__)

LOCAL_SCHEMES = frozenset({"memory"})
"""Storages that live inside one process (their counts are not shared)."""
SHARED_SCHEMES = frozenset({"redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster"})
"""Storages every server process reaches (the ``limits`` library's Redis family)."""
STORAGE_TIMEOUT_S = 0.5
"""Longest wait for the shared storage before the attempt is let through."""


def storage_scheme(uri: str) -> str:
    """The scheme of a storage URI, checked against the supported ones.

    Raises:
        ValueError: the scheme is not ``memory`` or one of Redis's.
    """
    scheme = urlsplit(uri).scheme
    if scheme not in LOCAL_SCHEMES | SHARED_SCHEMES:
        known = ", ".join(sorted(LOCAL_SCHEMES | SHARED_SCHEMES))
        raise ValueError(f"unsupported rate-limit storage {scheme!r}:// (use one of {known})")
    return scheme


def is_shared(uri: str) -> bool:
    """True when the storage is reached by every server process (not ``memory://``)."""
    return storage_scheme(uri) in SHARED_SCHEMES


def per_window(amount: int, window_s: float) -> RateLimitItem:
    """``amount`` attempts in any ``window_s`` seconds (at least one second)."""
    return RateLimitItemPerSecond(amount, max(1, round(window_s)))


class SharedLimits:
    """Moving-window counters in one storage, shared by the processes that name it.

    Args:
        storage_uri: ``memory://`` (this process only) or a Redis URI.
    """

    def __init__(self, storage_uri: str = "memory://") -> None:
        options: dict[str, float | str | bool] = {"wrap_exceptions": True}
        if is_shared(storage_uri):
            options |= {
                "socket_timeout": STORAGE_TIMEOUT_S,
                "socket_connect_timeout": STORAGE_TIMEOUT_S,
            }
        self.storage_uri = storage_uri
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri, **options))
        self._lock = threading.Lock()
        self.storage_errors = 0
        """Attempts let through because the storage could not be reached."""

    def hit(self, item: RateLimitItem, *keys: str) -> bool:
        """Record one attempt; False when it is over the limit (then it is not recorded)."""
        try:
            return self._limiter.hit(item, *keys)
        except StorageError as exc:
            self._storage_failed("hit", exc)
            return True

    def allows(self, item: RateLimitItem, *keys: str) -> bool:
        """True while one more attempt would be within the limit (nothing is recorded)."""
        try:
            return self._limiter.test(item, *keys)
        except StorageError as exc:
            self._storage_failed("test", exc)
            return True

    def clear(self, item: RateLimitItem, *keys: str) -> None:
        """Forget the attempts of ``keys`` under ``item``."""
        try:
            self._limiter.clear(item, *keys)
        except StorageError as exc:
            self._storage_failed("clear", exc)

    def _storage_failed(self, action: str, exc: StorageError) -> None:
        with self._lock:
            self.storage_errors += 1
        logger.error(
            "rate-limit storage %s unreachable (%s: %s); the attempt is let through",
            urlsplit(self.storage_uri).hostname or self.storage_uri,
            action,
            exc,
        )
