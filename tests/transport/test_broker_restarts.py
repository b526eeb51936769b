"""No event lost when the broker restarts, whatever the node and the aggregator do meanwhile.

Every process is real: Mosquitto (persistence on, SIGKILLed), the edge node
(``tests.transport.publisher_proc``: the real ``MqttPublisher`` and outbox in a process of
its own, 250 events/s) and ``traffic-monitor cloud ingest``. Before the end-to-end
acknowledgement a 5-s broker outage lost about half of 3,000 events (Mosquitto acknowledged
what the nodes sent while no aggregator's shared subscription existed) and a node killed
after reconnecting lost those it had sent since. Each scenario asserts only the outcome:
every produced event stored, exactly once.

Scenarios (a broker SIGKILL mid-run in each; the 60-s outage runs once, combined with every
other fault, to keep CI time down):

- ``node_exits``: 5 s; the node finishes and exits normally.
- ``node_killed_on_reconnect``: 5 s; the node is SIGKILLed right after it reconnects, then
  started again on the same outbox and exits normally.
- ``aggregator_back_last``: 5 s; the aggregator is SIGKILLed during the outage and started
  again only after the node has reconnected and sent to a broker without subscribers.
- ``aggregator_back_first``: 5 s; the aggregator is SIGKILLed and started again before the
  broker is back (it connects when the broker returns).
- ``all_60s``: 60 s; aggregator SIGKILLed during the outage, node SIGKILLed right after it
  reconnects, aggregator started again after that, node started again, exits normally.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.databases import migrated_sqlite
from tests.events import event_id
from tests.transport.conftest import Mosquitto, wait_for

REPO = Path(__file__).resolve().parents[2]
TOTAL, RATE, OUTAGE_AT = 1500, 250.0, 500
pytestmark = pytest.mark.slow


class Rig:
    """Broker, aggregator and node processes around one SQLite store, with their logs."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.broker = Mosquitto(tmp_path / "broker").start()
        self.database = tmp_path / "aggregator.sqlite3"
        self.store = migrated_sqlite(self.database)
        self.progress = tmp_path / "progress.txt"
        self.node_log = tmp_path / "node.log"
        self.aggregator_log = tmp_path / "aggregator.log"
        config = {"port": self.broker.port, "client_id": "agg-1", "reconnect_max_s": 2}
        config["database_url"] = f"sqlite:///{self.database}"
        self.aggregator_config = tmp_path / "ingest.json"
        self.aggregator_config.write_text(json.dumps(config))
        self.aggregator: subprocess.Popen[bytes] | None = None
        self.node: subprocess.Popen[bytes] | None = None

    # -- processes ---------------------------------------------------------------------------

    def start_aggregator(self) -> None:
        cmd = [sys.executable, "-m", "traffic_monitor", "cloud", "ingest"]
        with self.aggregator_log.open("ab") as log:
            self.aggregator = subprocess.Popen(
                [*cmd, "--config", str(self.aggregator_config)], cwd=REPO, stdout=log, stderr=log
            )

    def kill_aggregator(self) -> None:
        assert self.aggregator is not None
        self.aggregator.send_signal(signal.SIGKILL)
        self.aggregator.wait()

    def start_node(self) -> None:
        start = self.produced()
        cmd = [sys.executable, "-m", "tests.transport.publisher_proc"]
        cmd += ["--port", str(self.broker.port), "--outbox", str(self.tmp / "outbox.sqlite3")]
        cmd += ["--progress", str(self.progress), "--start", str(start), "--count", str(TOTAL)]
        cmd += ["--rate", str(RATE), "--close-timeout", "240"]
        with self.node_log.open("ab") as log:
            self.node = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=log)

    def kill_node(self) -> None:
        assert self.node is not None
        self.node.send_signal(signal.SIGKILL)
        self.node.wait()

    def node_exits_normally(self) -> None:
        assert self.node is not None
        assert self.node.wait(timeout=300) == 0, self.logs()
        assert "closed with 0 messages left" in self.node_log.read_text(), self.logs()

    # -- progress ----------------------------------------------------------------------------

    def produced(self) -> int:
        return len(self.progress.read_text().split()) if self.progress.exists() else 0

    def wait_produced(self, count: int) -> None:
        wait_for(lambda: self.produced() >= count, 60, f"{count} events produced", step=0.01)

    def connections(self) -> int:
        """How often the node has connected so far (it logs each connection)."""
        text = self.node_log.read_text() if self.node_log.exists() else ""
        return text.count("connected to broker (session present")

    def wait_reconnected(self, before: int) -> None:
        wait_for(lambda: self.connections() > before, 60, "the node's reconnection", step=0.01)

    def outage(self, seconds: float, meanwhile: Callable[[], None] = lambda: None) -> None:
        self.broker.kill(signal.SIGKILL)
        started = time.monotonic()
        meanwhile()
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        self.broker.start()

    def logs(self) -> str:
        def tail(path: Path) -> str:
            return path.read_text(errors="replace")[-3000:] if path.exists() else ""

        return f"node log:\n{tail(self.node_log)}\naggregator log:\n{tail(self.aggregator_log)}"

    def close(self) -> None:
        for proc in (self.node, self.aggregator):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        self.broker.kill(signal.SIGTERM)
        self.store.dispose()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(tmp_path)
    rig.start_aggregator()
    wait_for(lambda: "subscribed to" in rig.aggregator_log.read_text(), 180, "the aggregator")
    rig.start_node()
    yield rig
    rig.close()


def node_exits(rig: Rig) -> None:
    rig.outage(5)
    rig.node_exits_normally()


def node_killed_on_reconnect(rig: Rig) -> None:
    before = rig.connections()
    rig.outage(5)
    rig.wait_reconnected(before)
    rig.kill_node()
    rig.start_node()
    rig.node_exits_normally()


def aggregator_back_last(rig: Rig) -> None:
    before = rig.connections()
    rig.outage(5, meanwhile=rig.kill_aggregator)
    rig.wait_reconnected(before)
    rig.wait_produced(min(TOTAL, rig.produced() + 100))  # sent to a broker without subscribers
    rig.start_aggregator()
    rig.node_exits_normally()


def aggregator_back_first(rig: Rig) -> None:
    def restart() -> None:
        rig.kill_aggregator()
        rig.start_aggregator()  # retries until the broker is back

    rig.outage(5, meanwhile=restart)
    rig.node_exits_normally()


def all_60s(rig: Rig) -> None:
    before = rig.connections()
    rig.outage(60, meanwhile=rig.kill_aggregator)
    rig.wait_reconnected(before)
    rig.kill_node()
    rig.start_aggregator()
    rig.start_node()
    rig.node_exits_normally()


@pytest.mark.parametrize(
    "scenario",
    [node_exits, node_killed_on_reconnect, aggregator_back_last, aggregator_back_first, all_60s],
)
def test_no_event_lost_when_the_broker_restarts(rig: Rig, scenario: Callable[[Rig], None]):
    rig.wait_produced(OUTAGE_AT)
    try:
        scenario(rig)
        # the node exited normally only once the aggregator had confirmed every event
        stored = rig.store.event_ids()
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{rig.logs()}") from exc
    assert rig.produced() == TOTAL
    assert len(stored) == len(set(stored))
    missing = {event_id(i) for i in range(TOTAL)} - set(stored)
    assert not missing, f"{len(missing)} of {TOTAL} events lost\n{rig.logs()}"
    assert len(stored) == TOTAL
