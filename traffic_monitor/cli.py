"""The ``traffic-monitor`` command: one entry point, sub-commands per domain.

Each domain package owns its sub-commands in its own ``cli.py`` with a
``register(subparsers)`` function; this module only assembles them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from traffic_monitor import __version__
from traffic_monitor.errors import UserFacingError
from traffic_monitor.logs import configure_logging

logger = logging.getLogger(__name__)

# Modules whose ``register`` adds sub-commands, in the order they appear in --help.
COMMAND_MODULES = (
    "edge.cli",
    "calibration.cli",
    "models.cli",
    "cloud.cli",
    "benchmarks.cli",
    "traffic_monitor.demo_cli",
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every domain's sub-commands."""
    parser = argparse.ArgumentParser(
        prog="traffic-monitor",
        description="Edge video analytics for road-traffic safety.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(-1 if args.quiet else args.verbose)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 1
    try:
        return handler(args)
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
