"""One reader of alert changes for every open live stream.

Each open ``/api/live`` stream used to poll the store itself (and its login held a database
connection for as long as it stayed open), so 16 open pages slowed every other route to
seconds and 50 exhausted the pool. Here one task per application reads the changed alert
cards once per poll and keeps the latest ones in memory; the streams wait on it and hold no
connection. A stream that starts further back than that memory (a page opening with
``after=0``) reads the older changes once, in short pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from cloud.api.routers.schemas import AlertOut
from cloud.db import AlertRecord
from cloud.services.alerting import current_seq
from cloud.store import EventStore

logger = logging.getLogger(__name__)

PAGE = 200
"""Most alert cards read per query."""

Change = tuple[int, str]
"""(change sequence number, the alert card as JSON)."""


class AlertFeed:
    """Changed alert cards, read once per poll and shared by every open stream.

    Args:
        store: The aggregator's store.
        poll_s: How often the store is read while at least one stream is open.
        keep: How many recent changes are kept in memory.
    """

    def __init__(self, store: EventStore, poll_s: float, keep: int = 2000) -> None:
        self.store = store
        self.poll_s = poll_s
        self.reads = 0
        self._recent: deque[Change] = deque()
        self._keep = keep
        self._floor = 0  # every change after this sequence number is in _recent
        self._latest = 0
        self._tick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listeners = 0

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[None]:
        """Keep the reader running while the caller streams."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._floor = self._latest = await run_in_threadpool(self._current)
            self._recent.clear()
            self._tick = asyncio.Event()
            self._task = loop.create_task(self._poll(), name="alert-feed")
        self._listeners += 1
        try:
            yield
        finally:
            self._listeners -= 1
            if self._listeners == 0 and self._task is not None:
                self._task.cancel()
                self._task = None

    async def after(self, seq: int) -> list[Change]:
        """The changes after ``seq``, oldest first (at most one page when reading the store)."""
        if seq < self._floor:
            return await run_in_threadpool(self._read, seq, self._floor)
        return [c for c in self._recent if c[0] > seq]

    async def wait(self, timeout: float) -> None:
        """Return after the next read of the store, or after ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._tick.wait(), timeout)

    async def _poll(self) -> None:
        while True:
            try:
                changes = await run_in_threadpool(self._read, self._latest, None)
            except Exception:  # the database is away: the streams wait, the reader retries
                logger.exception("live feed: reading alert changes failed")
                changes = []
            self._remember(changes)
            tick, self._tick = self._tick, asyncio.Event()
            tick.set()
            await asyncio.sleep(self.poll_s)

    def _remember(self, changes: list[Change]) -> None:
        for change in changes:
            self._recent.append(change)
            self._latest = change[0]
        while len(self._recent) > self._keep:
            self._floor = self._recent.popleft()[0]

    def _current(self) -> int:
        with self.store.session() as db:
            return current_seq(db)

    def _read(self, after: int, upto: int | None) -> list[Change]:
        self.reads += 1
        stmt = select(AlertRecord).where(AlertRecord.updated_seq > after)
        if upto is not None:
            stmt = stmt.where(AlertRecord.updated_seq <= upto)
        with self.store.session() as db:
            rows = db.scalars(stmt.order_by(AlertRecord.updated_seq).limit(PAGE)).all()
            return [(r.updated_seq, AlertOut.model_validate(r).model_dump_json()) for r in rows]
