"""Held-out reports through a real ``cloud serve``: category, emergencies, numbers, per style.

Starts ``python -m traffic_monitor cloud serve`` (its own SQLite file, made by ``cloud migrate``
as in production) on a free loopback port, posts every labelled report of the given TSV files
as a citizen's app would (Open311 form, ``service_code=other``, each at its own place so none is
merged as a duplicate), reads the category back from ``GET requests/{id}`` and checks the
reply: an emergency must open with the number its kind needs (115 injury, 114 fire or people
trapped, 113 violence).

    python -m benchmarks.reports.heldout_http tests/reports/data/heldout.tsv --out FILE.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cloud.reports.compose import CATEGORY_NAMES
from cloud.reports.training.evaluate import Scored, confusion_text, read_labelled, report
from traffic_monitor.net import free_port

ROOT = Path(__file__).resolve().parents[2]
NUMBERS = ("113", "114", "115")
BY_NAME = {vi: cat.value for cat, (vi, _) in CATEGORY_NAMES.items()}


def _call(url: str, data: dict[str, str] | None = None) -> Any:
    body = urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(url, data=body, timeout=30) as res:
        return json.loads(res.read())


def _wait(base: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            _call(f"{base}/open311/v2/services.json")
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    raise RuntimeError("cloud serve did not start")


def _numbers_told(notice: str) -> tuple[str, ...]:
    """The emergency numbers the reply's first sentence names, in order."""
    first = notice.split(". ", 1)[0]
    return tuple(sorted((n for n in NUMBERS if n in first), key=first.index))


def run(files: list[Path]) -> dict[str, Any]:
    """Post every report of ``files`` to a fresh ``cloud serve``; the figures per file."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="reports-heldout-") as tmp:
        settings = Path(tmp) / "settings.json"
        settings.write_text(json.dumps({"reports": {"rate_limit": 10**9}}), encoding="utf-8")
        port = free_port()
        database = ["--database-url", f"sqlite:///{Path(tmp) / 'serve.sqlite3'}"]
        cli = [sys.executable, "-m", "traffic_monitor", "cloud"]
        subprocess.run([*cli, "migrate", *database], cwd=ROOT, env=os.environ.copy(), check=True)
        cmd = [*cli, "serve", "--port", str(port), *database, "--settings", str(settings)]
        server = subprocess.Popen(cmd, cwd=ROOT, env=os.environ.copy())
        base = f"http://127.0.0.1:{port}"
        try:
            _wait(base)
            for path in files:
                out[str(path)] = _score_file(base, path)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return out


def _score_file(base: str, path: Path) -> dict[str, Any]:
    scored = []
    for i, row in enumerate(read_labelled(path)):
        form = {
            "service_code": "other",
            "description": row.text,
            "lat": f"{10.0 + (i // 100) * 0.05:.5f}",  # ~5 km apart: never a duplicate
            "long": f"{106.0 + (i % 100) * 0.05:.5f}",
        }
        [created] = _call(f"{base}/open311/v2/requests.json", form)
        [public] = _call(f"{base}/open311/v2/requests/{created['service_request_id']}.json")
        category = BY_NAME.get(public["service_name"], public["service_name"])
        numbers = _numbers_told(created["service_notice"])
        scored.append(Scored(row, category, public["urgency"], numbers))
    figures = report(scored)
    figures["confusion_text"] = confusion_text(figures["confusion"])
    return figures


def main(argv: list[str] | None = None) -> int:
    """Command line: print and optionally write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, help="JSON result file")
    args = parser.parse_args(argv)
    figures = run(args.files)
    text = json.dumps(figures, indent=1, ensure_ascii=False)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    for name, fig in figures.items():
        print(f"== {name}\n{fig['confusion_text']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
