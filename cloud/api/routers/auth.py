"""Login, logout and who-am-I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from cloud.api.accounts import Principal, audit, authenticate, close_session, open_session
from cloud.api.deps import SESSION_COOKIE, Db, State, credential, get_principal
from cloud.api.routers.schemas import LoginIn, LoginOut, MeOut
from cloud.db import Role

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/login", response_model=LoginOut)
def login(body: LoginIn, request: Request, response: Response, db: Db, state: State) -> LoginOut:
    """Open a session; every failure is audited.

    Too many failures per user and address, or per address whatever the user names
    (password spraying), answer 429 until the window has passed.
    """
    address = request.client.host if request.client else "?"
    key, by_address = f"{body.username}|{address}", f"address|{address}"
    limits = state.settings.login_max_failures_per_address
    if state.limiter.blocked(key) or state.limiter.blocked(by_address, limits):
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many failed logins")
    user = authenticate(db, body.username, body.password)
    if user is None:
        state.limiter.failure(key)
        state.limiter.failure(by_address)
        audit(db, "anonymous", "auth.login_failed", f"user:{body.username}", address)
        db.commit()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong user name or password")
    state.limiter.success(key)
    ttl = state.settings.session_ttl_s
    token = open_session(db, user, ttl)
    audit(db, user.username, "auth.login", f"user:{user.username}", address)
    db.commit()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=ttl,
        httponly=True,
        samesite="strict",
        secure=state.settings.cookie_secure,
    )
    return LoginOut(token=token, username=user.username, role=Role(user.role), expires_in_s=ttl)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    request: Request,
    response: Response,
    db: Db,
    principal: Annotated[Principal, Depends(get_principal)],
) -> None:
    """Close the caller's session."""
    found = credential(request)
    if found is not None and found[0] == "session":
        close_session(db, found[1])
        db.commit()
    response.delete_cookie(SESSION_COOKIE)


@router.get("/me", response_model=MeOut)
def me(principal: Annotated[Principal, Depends(get_principal)]) -> MeOut:
    """Return who the caller is."""
    return MeOut(name=principal.name, role=principal.role, kind=principal.kind)
