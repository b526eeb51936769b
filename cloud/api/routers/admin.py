"""Administration: users, API keys, the full audit log, node status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from cloud.api.deps import Accounts, Admin, Nodes, Viewer
from cloud.api.routers.schemas import (
    ApiKeyIn,
    ApiKeyInfo,
    ApiKeyOut,
    AuditOut,
    NodeOut,
    SessionsEnded,
    UserChange,
    UserIn,
    UserOut,
)
from cloud.services import accounts

router = APIRouter(prefix="/api", tags=["admin"])

UserName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.@-]{1,64}$", description="User name.")]
KeyName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Key name.")]


@router.get("/users", response_model=list[UserOut])
def list_users(service: Accounts, who: Admin) -> list[UserOut]:
    """List users."""
    return [UserOut.model_validate(u) for u in service.users()]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def add_user(body: UserIn, service: Accounts, who: Admin) -> UserOut:
    """Create a user (409 when the name is taken)."""
    return UserOut.model_validate(service.add_user(body.username, body.password, body.role, who))


@router.patch("/users/{username}", response_model=UserOut)
def change_user(username: UserName, body: UserChange, service: Accounts, who: Admin) -> UserOut:
    """Deactivate or reactivate a user, or change their role; audited.

    Deactivating ends the user's sessions at once. The last active admin cannot be
    deactivated or demoted (409).
    """
    change = accounts.UserChange(active=body.active, role=body.role)
    return UserOut.model_validate(service.change_user(username, change, who))


@router.delete("/users/{username}/sessions", response_model=SessionsEnded)
def end_user_sessions(username: UserName, service: Accounts, who: Admin) -> SessionsEnded:
    """End every session of a user (logged out everywhere); audited."""
    return SessionsEnded(username=username, ended=service.end_user_sessions(username, who))


@router.get("/api-keys", response_model=list[ApiKeyInfo])
def list_api_keys(service: Accounts, who: Admin) -> list[ApiKeyInfo]:
    """List API keys (never the keys themselves)."""
    return [ApiKeyInfo.model_validate(r) for r in service.api_keys()]


@router.post("/api-keys", response_model=ApiKeyOut, status_code=status.HTTP_201_CREATED)
def add_api_key(body: ApiKeyIn, service: Accounts, who: Admin) -> ApiKeyOut:
    """Create an API key for a machine client (shown once; 409 when the name is taken)."""
    key = service.add_api_key(body.name, body.role, who)
    return ApiKeyOut(name=body.name, role=body.role, key=key)


@router.delete("/api-keys/{name}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_key(name: KeyName, service: Accounts, who: Admin) -> None:
    """Revoke an API key: it stops working at once; audited."""
    service.revoke_api_key(name, who)


@router.get("/audit", response_model=list[AuditOut])
def list_audit(
    service: Accounts, who: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[AuditOut]:
    """Return the latest audit lines, newest first."""
    return [AuditOut.model_validate(r) for r in service.audit_log(limit)]


@router.get("/nodes", response_model=list[NodeOut])
def list_nodes(nodes: Nodes, who: Viewer) -> list[NodeOut]:
    """Return every known edge node: online, offline, or degraded (online, no recent stats)."""
    return [
        NodeOut(site_id=site, node_id=node, state=known.state, last_seen=known.last_seen)
        for (site, node), known in nodes.states().items()
    ]
