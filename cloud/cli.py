"""Sub-commands of the ``cloud`` domain: ``ingest``, ``schema``, ``acl`` and the API's commands."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cloud.api.cli import register_api_commands
from cloud.ingest import IngestConfig, Ingestor
from cloud.ingest.acl import NodeCameras, parse_node, render_acl
from traffic_monitor.contract import TopicError
from traffic_monitor.contract.broker import lift_broker_fields
from traffic_monitor.contract.schema import render_schema, write_schema
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``cloud`` group to the ``traffic-monitor`` parser."""
    parser = subparsers.add_parser("cloud", help="the aggregator: ingest, schema, broker ACLs")
    group = parser.add_subparsers(dest="cloud_command", metavar="CLOUD_COMMAND")
    _register_ingest(group)
    _register_schema(group)
    _register_acl(group)
    register_api_commands(group)  # serve, create-admin, export-open-data (cloud/api/)


def _register_ingest(group: argparse._SubParsersAction[Any]) -> None:
    p = group.add_parser("ingest", help="consume events from MQTT into the database")
    p.add_argument("--config", type=Path, help="JSON file with IngestConfig fields")
    p.add_argument("--host", help="broker host (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="broker port (default 1883)")
    p.add_argument("--client-id", help="fixed, unique MQTT client id of this process")
    p.add_argument("--share-group", help="shared-subscription group (default aggregators)")
    p.add_argument("--username", help="broker user; password from --password-file or env")
    p.add_argument("--password-file", type=Path, help="file holding the broker password")
    p.add_argument("--database-url", help="SQLAlchemy URL (default sqlite:///var/...)")
    p.add_argument("--database-schema", help="PostgreSQL schema for the tables")
    p.set_defaults(handler=run_ingest)


def _register_schema(group: argparse._SubParsersAction[Any]) -> None:
    p = group.add_parser("schema", help="print or write the JSON Schema of the wire contract")
    p.add_argument("--write", action="store_true", help="write docs/event-schema.json")
    p.set_defaults(handler=run_schema)


def _register_acl(group: argparse._SubParsersAction[Any]) -> None:
    p = group.add_parser("acl", help="render a Mosquitto ACL file for edge nodes")
    p.add_argument(
        "nodes",
        nargs="*",
        help="SITE/NODE=CAMERA[,CAMERA...], e.g. hcm-q1/node-001=cam-1,cam-2",
    )
    p.add_argument(
        "--run-config",
        type=Path,
        action="append",
        default=[],
        help="a node's `edge run` YAML: its transport.mqtt site/node and its cameras (repeatable)",
    )
    p.add_argument("--aggregator-user", default="aggregator", help="user of the aggregators")
    p.set_defaults(handler=run_acl)


def run_ingest(args: argparse.Namespace) -> int:
    """Run one aggregator consumer until interrupted."""
    config = ingest_config(args)
    ingestor = Ingestor(config)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        ingestor.run_forever()
    print(f"ingest stopped: {ingestor.metrics}")
    return 0


def ingest_config(args: argparse.Namespace) -> IngestConfig:
    """The ingest settings: the ``--config`` file (either shape), then the flags over it.

    Raises:
        UserFacingError: The file is unreadable or the settings are invalid.
    """
    values = _ingest_file(args.config)
    for name in ("host", "port", "username", "password_file"):
        if getattr(args, name) is not None:
            values["broker"][name] = getattr(args, name)
    for name in ("client_id", "share_group", "database_url", "database_schema"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    try:
        return IngestConfig(**values)
    except ValidationError as exc:
        raise UserFacingError(f"invalid ingest configuration:\n{exc}") from exc


def _ingest_file(path: Path | None) -> dict[str, Any]:
    """The values of an ingest JSON file (none: empty), connection fields under ``broker``."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            values.update(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise UserFacingError(f"cannot read config {path}: {exc}") from exc
    try:
        values = lift_broker_fields(values)  # files of either shape
    except ValueError as exc:
        raise UserFacingError(f"invalid ingest configuration: {exc}") from exc
    if not isinstance(values["broker"], dict):
        raise UserFacingError("invalid ingest configuration: 'broker' must be a mapping")
    return values


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_schema(args: argparse.Namespace) -> int:
    """Print the contract's JSON Schema, or write it to docs/event-schema.json."""
    if args.write:
        print(f"wrote {write_schema()}")
    else:
        print(render_schema(), end="")
    return 0


def run_acl(args: argparse.Namespace) -> int:
    """Print a Mosquitto ACL file: each node writes only its cameras, under its prefix."""
    try:
        nodes = [parse_node(spec) for spec in args.nodes]
        nodes += [_node_of_run_config(path) for path in args.run_config]
        if not nodes:
            raise UserFacingError("name at least one node (SITE/NODE=CAMERA,...) or --run-config")
        print(render_acl(nodes, args.aggregator_user), end="")
    except TopicError as exc:
        raise UserFacingError(str(exc)) from exc
    return 0


def _node_of_run_config(path: Path) -> NodeCameras:
    """The node identity and cameras of an ``edge run`` config (its transport.mqtt section)."""
    from edge.pipeline.commands import load_run_config

    config, scenes, _ = load_run_config(path)
    mqtt = config.transport.mqtt
    if mqtt is None:
        raise UserFacingError(f"{path}: no transport.mqtt section (site_id, node_id)")
    return NodeCameras(mqtt.site_id, mqtt.node_id, tuple(s.camera.id for s in scenes))
