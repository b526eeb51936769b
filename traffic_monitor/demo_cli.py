"""The ``demo`` sub-command: the whole system on one machine with embedded defaults."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``demo`` sub-command (until the full system exists it runs ``detect``)."""
    parser = subparsers.add_parser(
        "demo",
        help="run the demo on the shared sample video (detect for now)",
        description="Run the detection path on the shared sample video, writing out/.",
    )
    parser.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from edge.detect_cli import run_detect_demo

    return run_detect_demo()
