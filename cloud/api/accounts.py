"""Users, sessions, API keys and the audit log."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.api.security import hash_password, new_token, token_hash, verify_password
from cloud.db import ApiKeyRecord, AuditRecord, Role, SessionRecord, UserRecord
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
