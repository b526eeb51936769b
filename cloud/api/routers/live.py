"""Server-sent events: alert cards as they are created or change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from cloud.api.deps import Feed, LiveViewer
from cloud.api.livefeed import AlertFeed

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["live"])

HEARTBEAT_S = 15.0
"""A comment line after this long without changes keeps proxies from closing the stream."""
MAX_SEQ = 2**62
"""Largest change sequence number a client may name."""
CHECK_S = 1.0
"""How often a quiet stream checks whether its client has gone."""


async def _stream(request: Request, feed: AlertFeed, after: int) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    clock = asyncio.get_running_loop().time
    async with feed.listening():
        sent = clock()
        while not await request.is_disconnected():
            changes = await feed.after(after)
            for seq, body in changes:
                after = seq
                yield f"id: {seq}\nevent: alert\ndata: {body}\n\n"
            if changes:
                sent = clock()
                continue
            await feed.wait(CHECK_S)
            if clock() - sent >= HEARTBEAT_S:
                sent = clock()
                yield ": heartbeat\n\n"


@router.get("/live")
async def live(
    request: Request,
    feed: Feed,
    who: LiveViewer,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
) -> StreamingResponse:
    """Stream ``alert`` events (JSON alert cards) changed after sequence ``after``.

    The stream holds no database connection while it is open (see :mod:`cloud.api.livefeed`).
    """
    last_id = request.headers.get("Last-Event-ID", "")
    if last_id.isascii() and last_id.isdigit() and len(last_id) < 19:
        after = min(int(last_id), MAX_SEQ)
    return StreamingResponse(
        _stream(request, feed, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
