"""Sub-commands of the ``cloud`` domain (not yet implemented)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this domain's sub-commands to the ``traffic-monitor`` parser."""
