"""A real ``traffic-monitor edge run`` process for tests: its output and events as they come.

Tests wait for conditions (a log line, an event in the JSON-lines file, a metric), never
for a number of seconds; the timeouts here only guard against a hang.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from traffic_monitor.shared_data import REPO_ROOT

HANG_GUARD_S = 600.0
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
_POLL_S = 0.2


class EdgeProcess:
    """``python -m MODULE ARGS…`` in the repository, output collected line by line."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        events: Path | None = None,
        module: str = "traffic_monitor",
        env: dict[str, str] | None = None,
        new_session: bool = False,
    ) -> None:
        self.events_path = events
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=new_session,  # a process group of its own, as in a terminal
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self.lines.append(line)

    @property
    def output(self) -> str:
        with self._lock:
            return "".join(self.lines)

    def events(self) -> list[dict[str, Any]]:
        """The events written so far (a line being written is left for the next call)."""
        if self.events_path is None or not self.events_path.exists():
            return []
        events = []
        for line in self.events_path.read_text(encoding="utf-8").splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return events

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        """Poll ``condition`` until it holds; fail if the process ends or hangs first."""
        deadline = time.monotonic() + HANG_GUARD_S
        while not condition():
            if self.process.poll() is not None and not condition():
                raise AssertionError(f"edge run ended before {what}:\n{self.output[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} after {HANG_GUARD_S} s:\n{self.output[-4000:]}")
            time.sleep(_POLL_S)

    def wait_for_output(self, text: str) -> None:
        self.wait_until(lambda: text in self.output, repr(text))

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def finish(self) -> int:
        """Wait for the exit (hang guard) and return the exit status."""
        code = self.process.wait(timeout=HANG_GUARD_S)
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        """Kill the process if it still runs (a failed test's clean-up)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def scrape(port: int) -> Samples:
    """A ``/metrics`` page as ``{(sample name, sorted labels): value}``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as reply:
        text = reply.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def metric(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when absent)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
