"""A stand-alone edge publisher process for the crash tests (run with ``python -m``)."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from tests.transport.conftest import make_event
from tests.transport.helpers import publisher


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--outbox", type=Path, required=True)
    parser.add_argument("--progress", type=Path, required=True)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    pub = publisher(args.port, args.outbox)
    pub.start()
    with args.progress.open("a") as progress:
        for index in range(args.start, args.count):
            pub.publish(make_event(index))  # on disk when this returns
            progress.write(f"{index}\n")
            progress.flush()
            time.sleep(1.0 / args.rate)
    pub.close(timeout=60)


if __name__ == "__main__":
    main()
