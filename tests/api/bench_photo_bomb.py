"""Photo decompression bombs on the public Open311 form: answer, time and peak memory.

Run: ``PYTHONPATH=. .venv/bin/python tests/api/bench_photo_bomb.py``; each bomb is posted
by a fresh process (so its peak memory is its own) and one JSON line per bomb is printed and
written to ``benchmarks/results/api_photo_bomb.json``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIDES = (15000, 25000)


def one(side: int) -> dict[str, object]:
    """Post one bomb of ``side`` x ``side`` pixels to a fresh app; measure the answer."""
    from tests.api.conftest import build_backend
    from tests.api.test_hardening import png_bomb
    from tests.databases import migrated_sqlite

    bomb = png_bomb(side, side)
    backend = build_backend(migrated_sqlite(Path(tempfile.mkdtemp()) / "bomb.sqlite3"))
    data = {"service_code": "road_hazard", "description": "ổ gà", "lat": "21.0", "long": "105.8"}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    res = backend.client.post(
        "/open311/v2/requests.json", data=data, files={"media": ("p.png", bomb, "image/png")}
    )
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "side": side,
        "png_bytes": len(bomb),
        "status": res.status_code,
        "answer": res.text[:120],
        "seconds": round(seconds, 3),
        "peak_growth_mb": round((peak - before) / 1024, 1),
        "peak_rss_mb": round(peak / 1024, 1),
    }


def main() -> None:
    """Run each bomb in its own process and write the results."""
    if len(sys.argv) > 1:
        print(json.dumps(one(int(sys.argv[1]))))
        return
    results = []
    for side in SIDES:
        out = subprocess.run(
            [sys.executable, __file__, str(side)], capture_output=True, text=True, check=True
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]))
    path = Path("benchmarks/results/api_photo_bomb.json")
    path.write_text(
        json.dumps({"bombs": results, "loadavg": os.getloadavg()}, indent=1) + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
