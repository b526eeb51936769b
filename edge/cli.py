"""Sub-commands of the edge box: ``detect`` and the ``edge`` group."""

from __future__ import annotations

import argparse
from typing import Any

from edge.detect_cli import add_detect_parser


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``detect`` and ``edge …`` to the ``traffic-monitor`` parser."""
    add_detect_parser(subparsers)
    register_edge_group(subparsers)


def register_edge_group(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``edge`` group (``edge run``, ``edge check-config``)."""
    from edge.pipeline.commands import add_edge_commands

    parser = subparsers.add_parser("edge", help="run the edge pipeline for configured cameras")
    add_edge_commands(parser.add_subparsers(dest="edge_command", metavar="EDGE_COMMAND"))
