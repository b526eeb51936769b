"""240 events dated past the datetime range through a real Mosquitto and ``cloud ingest``.

Run: ``PYTHONPATH=. .venv/bin/python tests/api/bench_hostile_times.py``; writes
``benchmarks/results/api_hostile_times.json``: dead letters, their log lines, tracebacks in
the consumer's log, and whether a valid event after them still becomes an alert card.
"""

from __future__ import annotations

import json
import signal
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from cloud.db import AlertRecord
from cloud.migrations import upgrade
from cloud.store import EventStore
from tests.api.test_hostile_events import TOPIC, _event, _ingest, _publish
from tests.transport.conftest import Mosquitto, wait_for

TIMES = (
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:00:00-05:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T00:00:00Z",
)
COUNT = 240


def main() -> None:
    """Publish, wait, count, write the JSON result."""
    work = Path(tempfile.mkdtemp())
    broker = Mosquitto(work / "broker").start()
    url = f"sqlite:///{work / 'aggregator.sqlite3'}"
    store = EventStore(url)
    upgrade(store)
    log = work / "ingest.log"
    proc = _ingest(broker.port, url, log)
    try:
        wait_for(lambda: b"subscribed to" in log.read_bytes(), 120, "the consumer")
        hostile = [json.dumps(_event(time=TIMES[i % 4])).encode() for i in range(COUNT)]
        _publish(broker.port, [(TOPIC, payload) for payload in hostile])
        wait_for(lambda: store.count_dead_letters() == COUNT, 120, "the dead letters")
        _publish(broker.port, [(TOPIC, json.dumps(_event()).encode())])
        wait_for(lambda: store.count_events() == 1, 60, "the valid event")
        time.sleep(1.0)
        with store.session() as db:
            cards = db.scalar(select(func.count()).select_from(AlertRecord))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        broker.kill(signal.SIGTERM)
    text = log.read_text(errors="replace")
    result = {
        "hostile_messages": COUNT,
        "dead_letters": store.count_dead_letters(),
        "dead_letter_log_lines": sum("dead letter on" in line for line in text.splitlines()),
        "tracebacks": text.count("Traceback"),
        "valid_events_after": store.count_events(),
        "alert_cards": cards,
        "reasons": dict(store.dead_letter_reasons()),
    }
    out = Path("benchmarks/results/api_hostile_times.json")
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
