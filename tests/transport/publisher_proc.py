"""A stand-alone edge publisher process for the crash tests (run with ``python -m``).

Stores events ``--start`` … ``--count - 1`` at ``--rate`` per second in its outbox (each
index is written to ``--progress`` once it is on disk), then closes normally: waits until
the aggregator has confirmed everything (``--close-timeout``) and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from tests.events import make_event
from tests.transport.helpers import publisher
from traffic_monitor.contract import EventType


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--outbox", type=Path, required=True)
    parser.add_argument("--progress", type=Path, required=True)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--close-timeout", type=float, default=60.0)
    parser.add_argument("--confirm-timeout", type=float, default=2.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    pub = publisher(
        args.port,
        args.outbox,
        confirm_timeout_s=args.confirm_timeout,
        confirm_timeout_max_s=4 * args.confirm_timeout,
    )
    pub.start()
    with args.progress.open("a") as progress:
        for index in range(args.start, args.count):
            pub.publish(make_event(EventType.SPEEDING, index=index))  # on disk when this returns
            progress.write(f"{index}\n")
            progress.flush()
            time.sleep(1.0 / args.rate)
    pub.close(timeout=args.close_timeout)
    logging.getLogger(__name__).info("closed with %d messages left", len(pub.outbox))


if __name__ == "__main__":
    main()
