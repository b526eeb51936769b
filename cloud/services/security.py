"""Password hashing (scrypt), opaque tokens and the failed-login rate limit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cloud.services.ratelimit import SharedLimits, per_window

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
    """Failed logins per user and address, and per address whatever the user names.

    The counts live in :class:`~cloud.services.ratelimit.SharedLimits`, so that several
    server processes share them.

    Args:
        limits: The shared counters.
        max_failures: Failures allowed per user and address inside the window.
        max_failures_per_address: Failures allowed per address (password spraying).
        window_s: Length of the window in seconds.
    """

    def __init__(
        self,
        limits: SharedLimits,
        max_failures: int,
        max_failures_per_address: int,
        window_s: float,
    ) -> None:
        self._limits = limits
        self._per_user = per_window(max_failures, window_s)
        self._per_address = per_window(max_failures_per_address, window_s)

    def blocked(self, username: str, address: str) -> bool:
        """True while the user at this address, or the address itself, used up its failures."""
        return not (
            self._limits.allows(self._per_user, "login", username, address)
            and self._limits.allows(self._per_address, "login-address", address)
        )

    def failure(self, username: str, address: str) -> None:
        """Record one failed login of ``username`` from ``address``."""
        self._limits.hit(self._per_user, "login", username, address)
        self._limits.hit(self._per_address, "login-address", address)

    def success(self, username: str, address: str) -> None:
        """Forget the user's failures at this address after a successful login."""
        self._limits.clear(self._per_user, "login", username, address)
