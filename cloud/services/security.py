"""Password hashing (scrypt), opaque tokens and the failed-login rate limit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque

_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_PREFIX = "scrypt"


def hash_password(password: str) -> str:
    """Hash a password with scrypt and a random salt; the parameters travel in the string."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    parts = [_PREFIX, str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P)]
    parts += [base64.b64encode(salt).decode(), base64.b64encode(digest).decode()]
    return "$".join(parts)


def verify_password(password: str, encoded: str) -> bool:
    """Check a password against :func:`hash_password` output in constant time."""
    try:
        prefix, n, r, p, salt_b64, digest_b64 = encoded.split("$")
        if prefix != _PREFIX:
            return False
        expected = base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt_b64),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


def new_token() -> str:
    """Return a new random URL-safe token (256 bits)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Return the SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def generate_password() -> str:
    """Return a generated password for a first admin (printed once, never stored clear)."""
    return secrets.token_urlsafe(15)


class LoginRateLimiter:
    """Counts failed logins per key (user and address) in a sliding window; bounded in size.

    Args:
        max_failures: failures allowed inside the window before logins are refused.
        window_s: length of the window in seconds.
        max_keys: most keys remembered (the oldest are dropped first).
    """

    def __init__(self, max_failures: int, window_s: float, max_keys: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times

    def blocked(self, key: str, limit: int | None = None) -> bool:
        """Return True while the key has used up its failures (``limit`` or the default)."""
        with self._lock:
            failures = len(self._prune(key, time.monotonic()))
            return failures >= (self.max_failures if limit is None else limit)

    def failure(self, key: str) -> None:
        """Record one failed login for the key."""
        with self._lock:
            now = time.monotonic()
            times = self._prune(key, now)
            times.append(now)
            self._failures[key] = times
            while len(self._failures) > self.max_keys:
                self._failures.pop(next(iter(self._failures)))

    def success(self, key: str) -> None:
        """Forget the failures of a key after a successful login."""
        with self._lock:
            self._failures.pop(key, None)
