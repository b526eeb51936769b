"""Fixtures of the transport tests: a real Mosquitto per test, stores on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.store import EventStore
from tests.databases import PG_URL, migrated_pg, migrated_sqlite, pg_available
from traffic_monitor.net import free_port, wait_port

MOSQUITTO = Path("/usr/sbin/mosquitto")
__all__ = ["PG_URL"]  # imported from here by the transport tests
# Mosquitto started as root drops to user "mosquitto", who cannot read pytest's tmp_path.
RUN_AS = "user root\n" if os.geteuid() == 0 else ""


def wait_for(predicate, timeout: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Mosquitto:
    """A real Mosquitto on a free loopback port, with persistence, that tests can kill."""

    def __init__(self, workdir: Path, extra: str = "", port: int | None = None) -> None:
        if not MOSQUITTO.exists():
            pytest.skip(f"{MOSQUITTO} is absent")
        self.workdir = workdir
        self.port = port or free_port()
        self.conf = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            f"per_listener_settings false\n{RUN_AS}"
            f"persistence true\npersistence_location {workdir / 'data'}/\n"
            f"autosave_interval 1\n"
            f"log_dest file {self.log}\nlog_type error\nlog_type warning\n"
            f"max_queued_messages 0\n"
            f"{extra}\n"
            f"listener {self.port} 127.0.0.1\n"
            + ("allow_anonymous true\n" if "allow_anonymous" not in extra else "")
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Mosquitto:
        self.proc = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    mosquitto = Mosquitto(tmp_path / "broker").start()
    yield mosquitto
    mosquitto.kill(signal.SIGTERM)


def make_store(kind: str, tmp_path: Path) -> EventStore:
    """A migrated store (as ``cloud migrate`` leaves it) on SQLite or PostgreSQL."""
    if kind == "sqlite":
        return migrated_sqlite(tmp_path / "aggregator.sqlite3")
    if not pg_available():
        pytest.skip(f"PostgreSQL at {PG_URL} is unreachable")
    return migrated_pg("tm_test")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    """The same tests on both databases; PostgreSQL gets a unique schema dropped after."""
    store = make_store(request.param, tmp_path)
    yield store
    store.drop()
    store.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[EventStore]:
    store = make_store("sqlite", tmp_path)
    yield store
    store.dispose()
