"""Rate limits shared by every server process: ``cloud serve --workers N`` over a real Redis.

Two server processes that counted alone would let a client make twice its reports and twice
its password guesses; these tests start a real ``traffic-monitor cloud serve --workers 2``
with the counts in a real Redis and check that the limits hold for the whole server.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cloud.api.app import SETTINGS_ENV
from cloud.api.settings import ApiSettings, load_settings
from cloud.db import Role
from cloud.migrations import upgrade
from cloud.services.accounts import create_user
from cloud.services.ratelimit import SharedLimits, is_shared, per_window
from cloud.store import EventStore
from tests.api.conftest import PASSWORD
from traffic_monitor.cli import main
from traffic_monitor.errors import UserFacingError
from traffic_monitor.net import free_port, wait_port

REPO = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
DISKLESS = ("--appendonly", "no")
HANOI = {"lat": "21.0285", "long": "105.8542"}


class Redis:
    """A real Redis on a free loopback port that keeps nothing on disk."""

    def __init__(self, workdir: Path) -> None:
        if not Path(REDIS_SERVER).exists():
            pytest.skip("redis-server is absent (scripts/system-deps.sh installs it)")
        self.port = free_port()
        listen = ("--port", str(self.port), "--bind", "127.0.0.1")
        self.proc = subprocess.Popen(
            [REDIS_SERVER, *listen, "--save", "", *DISKLESS, "--dir", str(workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, timeout=60)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Redis]:
    server = Redis(tmp_path)
    yield server
    server.stop()


def test_two_limiters_on_one_redis_share_their_counts(redis: Redis):
    first, second = SharedLimits(redis.url), SharedLimits(redis.url)  # two processes' worth
    item = per_window(3, 60)
    allowed = [lim.hit(item, "report", "10.0.0.7") for lim in (first, second) * 3]
    assert allowed == [True, True, True, False, False, False]
    assert first.hit(item, "report", "10.0.0.8")  # another client counts apart
    second.clear(item, "report", "10.0.0.7")
    assert first.allows(item, "report", "10.0.0.7")


def test_memory_limits_forget_attempts_after_the_window():
    limits = SharedLimits()
    item = per_window(2, 1)
    assert [limits.hit(item, "report", "a") for _ in range(3)] == [True, True, False]
    time.sleep(1.2)  # the window is over, however busy the machine is
    assert limits.hit(item, "report", "a")


def test_unreachable_storage_lets_reports_through_and_is_counted(caplog):
    limits = SharedLimits(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    item = per_window(1, 60)
    with caplog.at_level(logging.ERROR, logger="cloud.services.ratelimit"):
        assert [limits.hit(item, "report", "a") for _ in range(2)] == [True, True]
    assert limits.storage_errors == 2
    assert "unreachable" in caplog.text and "let through" in caplog.text


def test_storage_setting_is_checked_at_load():
    assert not is_shared(ApiSettings().rate_limit_storage)  # memory:// by default
    assert is_shared(
        load_settings(env={"TM_API_RATE_LIMIT_STORAGE": "redis://h:6379/0"}).rate_limit_storage
    )
    with pytest.raises(UserFacingError, match="rate_limit_storage") as refused:
        load_settings(env={"TM_API_RATE_LIMIT_STORAGE": "mongodb://h/db"})
    assert "redis" in str(refused.value)


def test_several_workers_with_memory_limits_are_refused(tmp_path: Path, capsys):
    database = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    code = main(["cloud", "serve", "--database-url", database, "--workers", "2"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--workers 2" in err and "TM_API_RATE_LIMIT_STORAGE=redis://" in err


@pytest.fixture
def server(tmp_path: Path, redis: Redis) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    database = f"sqlite:///{tmp_path / 'aggregator.sqlite3'}"
    store = EventStore(database)
    upgrade(store)
    with store.session() as db:
        create_user(db, "operator", PASSWORD, Role.OPERATOR)
        db.commit()
    store.dispose()
    settings = tmp_path / "api.json"
    settings.write_text(json.dumps({"reports": {"rate_limit": 3}}), encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != SETTINGS_ENV}
    env["TM_API_RATE_LIMIT_STORAGE"] = redis.url
    cmd = [sys.executable, "-m", "traffic_monitor", "cloud", "serve", "--workers", "2"]
    cmd += ["--settings", str(settings), "--database-url", database, "--port", str(port)]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc, log)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180  # two processes each load the triage model
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")
        try:
            if httpx.get(f"{base}/open311/v2/services.json", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"cloud serve --workers 2 not ready:\n{log.read_text(errors='replace')}")


def _worker_pids(proc: subprocess.Popen[bytes]) -> set[int]:
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    return {int(pid) for pid in children}


def test_workers_share_the_report_and_login_limits(server):
    base, proc = server
    assert len(_worker_pids(proc)) >= 2  # uvicorn's two worker processes
    report = {"service_code": "other", "description": "đèn đường tắt cả dãy phố", **HANOI}
    statuses = []
    for _ in range(8):  # a new connection each time, so both processes take some
        with httpx.Client(base_url=base, timeout=30) as client:
            statuses.append(client.post("/open311/v2/requests.json", data=report).status_code)
    assert statuses == [201] * 3 + [429] * 5  # rate_limit 3 for the whole server, not per process
    guesses = []
    for _ in range(6):
        with httpx.Client(base_url=base, timeout=30) as client:
            login = {"username": "operator", "password": "wrong"}
            guesses.append(client.post("/api/auth/login", json=login).status_code)
    assert guesses == [401] * 5 + [429]  # login_max_failures 5, shared
    with httpx.Client(base_url=base, timeout=30) as client:
        right = {"username": "operator", "password": PASSWORD}
        assert client.post("/api/auth/login", json=right).status_code == 429  # still blocked


def test_worker_factory_builds_the_aggregator_with_photo_privacy(tmp_path: Path, monkeypatch):
    from edge.privacy.photos import DetectorPhotoPrivacy
    from traffic_monitor import aggregator_app

    database = f"sqlite:///{tmp_path / 'aggregator.sqlite3'}"
    upgrade(EventStore(database))
    settings = ApiSettings(database_url=database, rate_limit_storage="redis://127.0.0.1:1/0")
    monkeypatch.setenv(SETTINGS_ENV, settings.model_dump_json())
    app = aggregator_app.create()
    assert app.state.tm.settings == settings
    assert isinstance(app.state.tm.redactor.privacy, DetectorPhotoPrivacy)
    monkeypatch.delenv(SETTINGS_ENV)
    with pytest.raises(UserFacingError, match="start the server with `cloud serve`"):
        aggregator_app.create()
