"""Forwarding tickets to the teams that act on them: per-category HTTP targets, in the background.

A target is a webhook (the ticket as JSON) or an e-mail/SMS gateway reached over HTTP (the same
JSON with ``to`` and a ready-to-send ``message``). Configured per category in
``ReportsConfig.dispatch``; a category without a target is not forwarded and the reply says
the ticket is in the operations centre's queue.

Sending happens on one background thread with a bounded queue, so a slow or dead target never
delays a reply (the intake must answer hundreds of reports per second). Each ticket's
``dispatch_status`` goes ``pending`` → ``sent`` (a 2xx answer) or ``failed`` (after
:attr:`DispatchTarget.attempts` tries, or when the queue is full); operators see it.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session, sessionmaker

from cloud.db import ReportTicket

logger = logging.getLogger(__name__)

MAX_QUEUE = 10_000
"""Tickets waiting to be sent at most (beyond: marked ``failed``, logged, counted)."""


class DispatchTarget(BaseModel):
    """Where tickets of one category are sent."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["webhook", "email_gateway", "sms_gateway"] = Field(
        default="webhook", description="JSON webhook, or an e-mail / SMS gateway over HTTP."
    )
    url: str = Field(
        pattern=r"^https?://\S+$", max_length=2000, description="HTTP(S) URL that receives a POST."
    )
    name_vi: str = Field(min_length=1, max_length=200, description="Who receives it (Vietnamese).")
    name_en: str = Field(min_length=1, max_length=200, description="Who receives it (English).")
    recipient: str | None = Field(
        default=None, max_length=254, description="E-mail address or phone number (gateways)."
    )
    timeout_s: float = Field(default=5.0, gt=0, le=60, description="Per-attempt HTTP timeout.")
    attempts: int = Field(default=3, ge=1, le=10, description="Tries before ``failed``.")


@dataclass(frozen=True, slots=True)
class DispatchJob:
    """One ticket to forward."""

    row_id: int
    target: DispatchTarget
    payload: Mapping[str, Any]


Poster = Callable[[DispatchTarget, bytes], int]
"""Sends one body to a target, returns the HTTP status (raises ``OSError`` on failure)."""


def post_json(target: DispatchTarget, body: bytes) -> int:
    """POST ``body`` as JSON to the target's URL (standard library: one request, no session)."""
    request = urllib.request.Request(
        target.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=target.timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def message_body(target: DispatchTarget, payload: Mapping[str, Any]) -> bytes:
    """The JSON sent to a target (gateways get ``to`` and a one-line ``message``)."""
    body = dict(payload)
    if target.kind != "webhook":
        body["to"] = target.recipient
        body["message"] = (
            f"[{payload['ticket']}] {payload['category']}/{payload['urgency']}: "
            f"{payload['description'][:300]}"
        )
    return json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")


_TICKETS = cast(Table, ReportTicket.__table__)
_SET_STATUS = (
    update(_TICKETS)
    .where(_TICKETS.c.id == bindparam("row_id"))
    .values(dispatch_status=bindparam("new_status"), dispatched_at=bindparam("at"))
)


class Dispatcher:
    """Sends tickets on a background thread and records each outcome on the ticket.

    Args:
        sessions: Session factory on the store (the ticket rows).
        post: How one body is sent (tests pass a fake or use a loopback receiver).
        backoff_s: Pause before a retry (doubled each time).
    """

    def __init__(
        self, sessions: sessionmaker[Session], post: Poster = post_json, backoff_s: float = 0.5
    ) -> None:
        self._sessions = sessions
        self._post = post
        self._backoff = backoff_s
        self._queue: queue.Queue[DispatchJob | None] = queue.Queue(MAX_QUEUE)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.dropped = 0

    def enqueue(self, job: DispatchJob) -> bool:
        """Queue one ticket; False (and the ticket marked ``failed``) when the queue is full."""
        self._start()
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.dropped += 1
            logger.error("dispatch queue full: ticket row %s not forwarded", job.row_id)
            self._record(job.row_id, "failed")
            return False
        return True

    def join(self) -> None:
        """Wait until every queued ticket has been handled (tests, shutdown)."""
        self._queue.join()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the thread after the queued tickets (bounded wait)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout_s)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="report-dispatch", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                self._record(job.row_id, "sent" if self._send(job) else "failed")
            except Exception:  # one bad ticket must not stop the forwarding of the others
                logger.exception("dispatch of ticket row %s failed", job.row_id if job else "-")
            finally:
                self._queue.task_done()

    def _send(self, job: DispatchJob) -> bool:
        body = message_body(job.target, job.payload)
        for attempt in range(1, job.target.attempts + 1):
            try:
                status = self._post(job.target, body)
            except OSError as exc:
                logger.warning("dispatch of row %s, try %d: %s", job.row_id, attempt, exc)
            else:
                if 200 <= status < 300:
                    return True
                logger.warning("dispatch of row %s, try %d: HTTP %s", job.row_id, attempt, status)
            if attempt < job.target.attempts:
                time.sleep(self._backoff * 2 ** (attempt - 1))
        return False

    def _record(self, row_id: int, status: str) -> None:
        at = datetime.now(UTC) if status == "sent" else None
        with self._sessions() as session:
            session.connection().execute(
                _SET_STATUS, {"row_id": row_id, "new_status": status, "at": at}
            )
            session.commit()
        logger.info("ticket row %s dispatch %s", row_id, status)
