"""Logging set-up for the command-line entry points (library code only gets loggers)."""

from __future__ import annotations

import logging
import os

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(verbosity: int = 0) -> None:
    """Configure the root logger once for a command-line process.

    Args:
        verbosity: 0 for INFO, 1 or more for DEBUG, negative for WARNING.
            ``TRAFFIC_MONITOR_LOG_LEVEL`` overrides it.
    """
    level = logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO
    override = os.environ.get("TRAFFIC_MONITOR_LOG_LEVEL")
    if override:
        level = logging.getLevelName(override.upper())
    logging.basicConfig(level=level, format=LOG_FORMAT)
