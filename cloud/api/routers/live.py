"""Server-sent events: alert cards as they are created or change."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from cloud.api.alerts import sync_alerts
from cloud.api.deps import AppState, State, Viewer
from cloud.api.models import AlertRecord
from cloud.api.routers.alerts import alert_out

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["live"])

HEARTBEAT_S = 15.0


def _changes(state: AppState, after_seq: int) -> list[str]:
    """Group new events into alerts and return the alerts changed after ``after_seq`` as JSON."""
    with state.store.session() as db:
        sync_alerts(db, state.settings.alert_min_severity, state.settings.alert_group_window_s)
        rows = db.scalars(
            select(AlertRecord)
            .where(AlertRecord.updated_seq > after_seq)
            .order_by(AlertRecord.updated_seq)
            .limit(200)
        ).all()
        return [alert_out(r).model_dump_json() for r in rows]


async def _stream(request: Request, state: AppState, after_seq: int) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    idle = 0.0
    while not await request.is_disconnected():
        changed = await run_in_threadpool(_changes, state, after_seq)
        for body in changed:
            after_seq = max(after_seq, int(json.loads(body)["updated_seq"]))
            yield f"id: {after_seq}\nevent: alert\ndata: {body}\n\n"
        idle = 0.0 if changed else idle + state.settings.live_poll_s
        if idle >= HEARTBEAT_S:
            idle = 0.0
            yield ": heartbeat\n\n"
        await asyncio.sleep(state.settings.live_poll_s)


@router.get("/live")
async def live(request: Request, state: State, who: Viewer, after: int = 0) -> StreamingResponse:
    """Stream ``alert`` events (JSON alert cards) changed after sequence ``after``."""
    last_id = request.headers.get("Last-Event-ID")
    if last_id is not None and last_id.isdigit():
        after = int(last_id)
    return StreamingResponse(
        _stream(request, state, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
