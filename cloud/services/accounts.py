"""Users, sessions, API keys and the audit log.

The functions work on a session the caller commits (the CLI uses them);
:class:`AccountService` is what the HTTP API's routers get: each of its changes is audited
and committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.db import ApiKeyRecord, AuditRecord, Role, SessionRecord, UserRecord
from cloud.services.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
)
from cloud.services.security import (
    LoginRateLimiter,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Return the current time in UTC (aware)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a logged-in user or an API key."""

    name: str
    role: Role
    kind: str  # "user" or "api_key"

    def allows(self, needed: Role) -> bool:
        """Return True when this principal's role is at least ``needed``."""
        return self.role.rank >= needed.rank


def create_user(session: Session, username: str, password: str, role: Role) -> UserRecord:
    """Add a user; raises UserFacingError when the name is taken or the password too short."""
    if len(password) < 10:
        raise UserFacingError("a password needs at least 10 characters")
    user = UserRecord(
        username=username,
        password_hash=hash_password(password),
        role=role.value,
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise UserFacingError(f"user {username!r} already exists") from exc
    return user


def count_admins(session: Session) -> int:
    """Return how many active admins exist."""
    rows = session.scalars(
        select(UserRecord.id).where(UserRecord.role == Role.ADMIN.value, UserRecord.active)
    ).all()
    return len(rows)


def authenticate(session: Session, username: str, password: str) -> UserRecord | None:
    """Return the active user when the password matches, else None."""
    user = session.scalars(select(UserRecord).where(UserRecord.username == username)).first()
    if user is None or not user.active:
        verify_password(password, _DUMMY_HASH)  # same cost whether or not the user exists
        return None
    return user if verify_password(password, user.password_hash) else None


_DUMMY_HASH = hash_password("not-a-real-password")


def open_session(session: Session, user: UserRecord, ttl_s: int) -> str:
    """Store a new session for the user and return its token (shown once)."""
    token = new_token()
    now = utcnow()
    session.execute(delete(SessionRecord).where(SessionRecord.expires_at < now))
    session.add(
        SessionRecord(
            token_hash=token_hash(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
    )
    return token


def close_session(session: Session, token: str) -> None:
    """Delete a session (logout)."""
    session.execute(delete(SessionRecord).where(SessionRecord.token_hash == token_hash(token)))


def principal_from_session(session: Session, token: str) -> Principal | None:
    """Return the user of an unexpired session token, else None."""
    row = session.execute(
        select(SessionRecord, UserRecord)
        .join(UserRecord, UserRecord.id == SessionRecord.user_id)
        .where(SessionRecord.token_hash == token_hash(token))
    ).first()
    if row is None:
        return None
    record, user = row
    if record.expires_at <= utcnow() or not user.active:
        return None
    return Principal(user.username, Role(user.role), "user")


def create_api_key(session: Session, name: str, role: Role) -> str:
    """Store a new API key and return it (shown once)."""
    key = "tmk_" + new_token()
    session.add(
        ApiKeyRecord(key_hash=token_hash(key), name=name, role=role.value, created_at=utcnow())
    )
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise UserFacingError(f"API key {name!r} already exists") from exc
    return key


def revoke_api_key(session: Session, name: str) -> bool:
    """Revoke an API key by name (it stops working at once); False when there is none."""
    record = session.scalars(select(ApiKeyRecord).where(ApiKeyRecord.name == name)).first()
    if record is None:
        return False
    record.revoked = True
    return True


def end_sessions(session: Session, user: UserRecord) -> int:
    """Delete every session of a user (logged out everywhere at once); return how many."""
    result = session.execute(delete(SessionRecord).where(SessionRecord.user_id == user.id))
    return int(getattr(result, "rowcount", 0) or 0)


def find_user(session: Session, username: str) -> UserRecord | None:
    """The user of that name, or None."""
    return session.scalars(select(UserRecord).where(UserRecord.username == username)).first()


def principal_from_api_key(session: Session, key: str) -> Principal | None:
    """Return the principal of an unrevoked API key, else None."""
    record = session.get(ApiKeyRecord, token_hash(key))
    if record is None or record.revoked:
        return None
    return Principal(f"key:{record.name}", Role(record.role), "api_key")


def audit(session: Session, actor: str, action: str, target: str, detail: str = "") -> None:
    """Append one line to the audit log (committed with the caller's transaction)."""
    session.add(
        AuditRecord(time=utcnow(), actor=actor, action=action, target=target, detail=detail)
    )
    logger.info("audit %s %s %s", actor, action, target)


@dataclass(frozen=True)
class LoginPolicy:
    """How logins are limited and how long their sessions last."""

    limiter: LoginRateLimiter
    session_ttl_s: int


@dataclass(frozen=True)
class UserChange:
    """What to change of a user (None: keep)."""

    active: bool | None = None
    role: Role | None = None


class AccountService:
    """Logins, users and API keys on behalf of a caller, on one session; changes audited.

    Args:
        db: The request's session; the methods that change something commit it.
        policy: The login limits and session lifetime.
    """

    def __init__(self, db: Session, policy: LoginPolicy) -> None:
        self.db = db
        self.policy = policy

    def login(self, username: str, password: str, address: str) -> tuple[UserRecord, str]:
        """Open a session; return the user and the token (shown once). Failures are audited.

        Raises:
            RateLimitedError: too many failures for this user and address, or for the
                address whatever the user names (password spraying).
            AuthenticationError: wrong user name or password.
        """
        limiter = self.policy.limiter
        if limiter.blocked(username, address):
            raise RateLimitedError("too many failed logins")
        user = authenticate(self.db, username, password)
        if user is None:
            limiter.failure(username, address)
            audit(self.db, "anonymous", "auth.login_failed", f"user:{username}", address)
            self.db.commit()
            raise AuthenticationError("wrong user name or password")
        limiter.success(username, address)
        token = open_session(self.db, user, self.policy.session_ttl_s)
        audit(self.db, user.username, "auth.login", f"user:{user.username}", address)
        self.db.commit()
        return user, token

    def logout(self, token: str) -> None:
        """Close a session."""
        close_session(self.db, token)
        self.db.commit()

    def users(self) -> list[UserRecord]:
        """Every user, in order of creation."""
        return list(self.db.scalars(select(UserRecord).order_by(UserRecord.id)))

    def add_user(self, username: str, password: str, role: Role, who: Principal) -> UserRecord:
        """Create a user (ConflictError when the name is taken or the password too short)."""
        try:
            user = create_user(self.db, username, password, role)
        except UserFacingError as exc:
            raise ConflictError(str(exc)) from exc
        audit(self.db, who.name, "user.create", f"user:{username}", role.value)
        self.db.commit()
        return user

    def user(self, username: str) -> UserRecord:
        """The user of that name (NotFoundError when there is none)."""
        user = find_user(self.db, username)
        if user is None:
            raise NotFoundError("no such user")
        return user

    def change_user(self, username: str, change: UserChange, who: Principal) -> UserRecord:
        """Deactivate or reactivate a user, or change their role; audited.

        Deactivating ends the user's sessions at once.

        Raises:
            NotFoundError: no such user.
            ConflictError: the change would leave no active admin.
        """
        user = self.user(username)
        demoted = change.role is not None and change.role is not Role.ADMIN
        losing_admin = (
            user.role == Role.ADMIN.value and user.active and (change.active is False or demoted)
        )
        if losing_admin and count_admins(self.db) <= 1:
            raise ConflictError("the last active admin must stay")
        changes = []
        if change.active is not None and change.active != user.active:
            user.active = change.active
            changes.append("activated" if change.active else "deactivated")
            if not change.active:
                end_sessions(self.db, user)
        if change.role is not None and change.role.value != user.role:
            changes.append(f"role {user.role}->{change.role.value}")
            user.role = change.role.value
        if changes:
            audit(self.db, who.name, "user.change", f"user:{username}", ", ".join(changes))
        self.db.commit()
        return user

    def end_user_sessions(self, username: str, who: Principal) -> int:
        """End every session of a user (logged out everywhere); audited; how many."""
        ended = end_sessions(self.db, self.user(username))
        audit(self.db, who.name, "user.sessions_end", f"user:{username}", str(ended))
        self.db.commit()
        return ended

    def api_keys(self) -> list[ApiKeyRecord]:
        """Every API key's record, by name (never the keys themselves)."""
        return list(self.db.scalars(select(ApiKeyRecord).order_by(ApiKeyRecord.name)))

    def add_api_key(self, name: str, role: Role, who: Principal) -> str:
        """Create an API key and return it, shown once (ConflictError when the name is taken)."""
        try:
            key = create_api_key(self.db, name, role)
        except UserFacingError as exc:
            raise ConflictError(str(exc)) from exc
        audit(self.db, who.name, "api_key.create", f"api_key:{name}", role.value)
        self.db.commit()
        return key

    def revoke_api_key(self, name: str, who: Principal) -> None:
        """Revoke an API key: it stops working at once; audited (NotFoundError when none)."""
        if not revoke_api_key(self.db, name):
            raise NotFoundError("no such API key")
        audit(self.db, who.name, "api_key.revoke", f"api_key:{name}")
        self.db.commit()

    def audit_log(self, limit: int) -> list[AuditRecord]:
        """The latest audit lines, newest first."""
        stmt = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit)
        return list(self.db.scalars(stmt))
