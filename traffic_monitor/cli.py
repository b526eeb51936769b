"""The ``traffic-monitor`` command: one entry point, sub-commands per domain.

Each domain package owns its sub-commands in its own ``cli.py`` with a
``register(subparsers)`` function; this module only assembles them. A domain's module is
imported only when one of its commands runs, so an edge box installed with ``pip install .``
runs ``detect``, ``edge …`` and ``calibrate`` without the aggregator's or the training
extras, and a command whose extra is missing says which one to install.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from traffic_monitor import __version__, aggregator_app
from traffic_monitor.errors import UserFacingError
from traffic_monitor.logs import configure_logging

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    """A top-level command, the domain module that registers it and the extra it needs.

    Attributes:
        name: The command word.
        module: Module whose ``register(subparsers)`` adds it (and maybe sibling commands).
        help: One line for ``traffic-monitor --help`` (the module's own help is used once it
            is imported).
        extra: The optional dependency group the module needs; None for the edge runtime.
        checkout_only: The module is not in the wheel (``benchmarks``): the command runs
            from a source checkout only.
    """

    name: str
    module: str
    help: str
    extra: str | None = None
    checkout_only: bool = False


COMMANDS = (
    Command("detect", "edge.cli", "detect road users in a video file or stream"),
    Command("edge", "edge.cli", "run the edge pipeline for configured cameras"),
    Command(
        "calibrate", "calibration.cli", "calibrate a camera: image pixels to road-plane metres"
    ),
    Command("models", "models.cli", "evaluate, export, quantise and train detectors", "models"),
    Command("cloud", "cloud.cli", "the aggregator: ingest, API, schema, broker ACLs", "cloud"),
    Command(
        "bench",
        "benchmarks.cli",
        "latency, fps and capacity of the real-time path (source checkout)",
        checkout_only=True,
    ),
    Command("demo", "traffic_monitor.demo_cli", "the whole system on this machine", "cloud"),
)
"""Every command, in the order they appear in ``--help``."""

_EXTRA_OF_PACKAGE = {
    "fastapi": "cloud",
    "uvicorn": "cloud",
    "sqlalchemy": "cloud",
    "alembic": "cloud",
    "psycopg": "cloud",
    "multipart": "cloud",
    "PIL": "cloud",
    "sklearn": "cloud",
    "ultralytics": "models",
    "torch": "models",
    "torchvision": "models",
    "onnx": "models",
    "onnxslim": "models",
    "matplotlib": "models",
    "openvino": "openvino",
}
"""Top-level packages of the optional extras (pyproject.toml), for the install hint."""

Handler = Callable[[argparse.Namespace], int]


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Build the argument parser; only the domain of the command in ``argv`` is imported.

    Args:
        argv: The arguments about to be parsed (None: every domain is imported, as the
            tests of the whole command line do).

    Raises:
        UserFacingError: The chosen command's optional extra is not installed.
    """
    parser = argparse.ArgumentParser(
        prog="traffic-monitor",
        description="Edge video analytics for road-traffic safety.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    # the composition root: the aggregator's photo privacy is the edge's detectors (cloud
    # declares the interface, cloud.reports.photos.PhotoPrivacy, and never imports edge)
    parser.set_defaults(
        photo_privacy=aggregator_app.edge_photo_privacy, app_factory=aggregator_app.FACTORY
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _chosen_command(argv)
    imported: set[str] = set()
    for command in COMMANDS:
        if (argv is None or command.name == chosen) and command.module not in imported:
            _register(command, subparsers)
            imported.add(command.module)
    for command in COMMANDS:  # the others are listed in --help without being imported
        if command.name not in subparsers.choices:
            subparsers.add_parser(command.name, help=command.help, add_help=False)
    return parser


@contextlib.contextmanager
def _stop_requests() -> Iterator[list[int]]:
    """Record SIGINT/SIGTERM instead of dying while the parser and its modules load.

    Yields the list the signals received are appended to; the previous handlers are back
    once the block ends. Outside the main thread (tests calling :func:`main`) nothing is
    installed.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    wanted = (signal.SIGINT, signal.SIGTERM)
    previous = {
        sig: signal.signal(sig, lambda signum, _: received.append(signum)) for sig in wanted
    }
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _chosen_command(argv: Sequence[str] | None) -> str | None:
    """The first argument that is a command word (options such as ``-v`` come before it)."""
    names = {command.name for command in COMMANDS}
    for arg in argv or ():
        if arg in names:
            return arg
        if not arg.startswith("-"):
            return None
    return None


def _register(command: Command, subparsers: argparse._SubParsersAction[Any]) -> None:
    """Import the command's domain module and let it add its sub-commands."""
    if command.checkout_only:
        _checkout_on_path(command.module.split(".")[0])
    try:
        importlib.import_module(command.module).register(subparsers)
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if command.checkout_only and top == command.module.split(".")[0]:
            raise UserFacingError(
                f"'traffic-monitor {command.name}' runs from a source checkout: "
                f"{top}/ needs the repository's clips and results and is not in the "
                "wheel (git clone the project, then pip install -e '.[dev,models]')"
            ) from exc
        error = _missing_extra(command.name, exc, command.extra)
        if error is None:
            raise
        raise error from exc


def _checkout_on_path(package: str) -> None:
    """Put the source checkout on ``sys.path`` when ``package`` sits there but is not installed.

    An editable install (``pip install -e``) maps only the shipped packages; a checkout-only
    package such as ``benchmarks`` is found beside them when the CLI runs from any folder.
    """
    root = Path(__file__).resolve().parents[1]
    beside = (root / package / "__init__.py").is_file() and str(root) not in sys.path
    if beside and importlib.util.find_spec(package) is None:
        sys.path.append(str(root))


def _missing_extra(
    what: str, exc: ModuleNotFoundError, default_extra: str | None = None
) -> UserFacingError | None:
    """The error to show for a missing package: which extra installs it (None: no extra)."""
    top = (exc.name or "").split(".")[0]
    extra = _EXTRA_OF_PACKAGE.get(top, default_extra)
    if extra is None:
        return None
    return UserFacingError(
        f"'traffic-monitor {what}' needs the '{extra}' extra ({top} is not installed): "
        f"pip install 'traffic-monitor[{extra}]' (from a checkout: pip install '.[{extra}]')"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status.

    A SIGINT or SIGTERM that arrives while the command's modules load (seconds on a busy
    box) ends the process with status 0 before the command starts; from then on the
    command's own handling applies (``edge run`` installs its stop handlers first thing).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    with _stop_requests() as stop_requested:
        try:
            parser = build_parser(arguments)
        except UserFacingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        args = parser.parse_args(arguments)
    if stop_requested:
        logger.info("stopped before the command started (signal %s)", stop_requested[0])
        return 0
    configure_logging(-1 if args.quiet else args.verbose)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 1
    try:
        try:
            return handler(args)
        except ModuleNotFoundError as exc:
            error = _missing_extra(args.command, exc)
            if error is None:
                raise
            raise error from exc
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
