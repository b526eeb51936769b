"""JSON Schema of the wire contract, generated from the pydantic models.

The committed copy lives in ``docs/event-schema.json``; a test fails when it is stale.
Regenerate with ``traffic-monitor cloud schema --write``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from traffic_monitor.contract.acks import DeliveryAck
from traffic_monitor.contract.commands import PingCommand, SignalCommand
from traffic_monitor.contract.events import EVENT_ADAPTER, SCHEMA_VERSION
from traffic_monitor.contract.status import NodeStats, NodeStatus
from traffic_monitor.shared_data import REPO_ROOT

SCHEMA_PATH = REPO_ROOT / "docs" / "event-schema.json"
"""Where the committed schema lives."""


def contract_schema() -> dict[str, Any]:
    """Return the JSON Schema of every wire message (events, status, stats, commands)."""
    events = EVENT_ADAPTER.json_schema(ref_template="#/$defs/{model}")
    models = (NodeStatus, NodeStats, SignalCommand, PingCommand, DeliveryAck)
    _, top = models_json_schema(
        [(model, "validation") for model in models],
        title=f"traffic-monitor wire contract v{SCHEMA_VERSION}",
    )
    definitions = {**events.pop("$defs"), **top["$defs"]}
    definitions["Event"] = {"description": "Any event: the model of its `type`.", **events}
    names = ["Event", *(model.__name__ for model in models)]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://traffic-monitor.invalid/schema/v{SCHEMA_VERSION}/contract.json",
        "title": top["title"],
        "description": (
            "Messages on traffic/v1/{site}/{node}/events/{camera}/{type} (Event: one model per "
            "event type, chosen by its type field), …/status (NodeStatus, retained), …/stats "
            "(NodeStats), and inbound …/commands/signal_state (SignalCommand), "
            "…/commands/ping (PingCommand) and …/acks (DeliveryAck: what the aggregator "
            "stored). Consumers ignore unknown fields; schema_version 1 messages are still "
            "read (events upgraded), other versions are refused."
        ),
        "oneOf": [{"$ref": f"#/$defs/{name}"} for name in names],
        "$defs": definitions,
    }


def render_schema() -> str:
    """Return the schema as the text committed to ``docs/event-schema.json``."""
    return json.dumps(contract_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Write the schema file and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_schema(), encoding="utf-8")
    return path
