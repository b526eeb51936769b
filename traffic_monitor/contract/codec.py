"""Encoding and checked decoding of wire messages.

Decoding never trusts the payload: size, UTF-8, JSON, nesting, version and fields are
checked in that order, and any refusal is a :class:`ContractError` whose message is the
reason stored in the dead-letter table. Fields are validated strictly (pydantic's strict JSON
mode): a value of the wrong JSON type is refused, never converted. Schema-1 messages are
still read: events are upgraded to the schema-2 shape first (``legacy.upgrade_v1_event``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from traffic_monitor.contract.acks import DeliveryAck
from traffic_monitor.contract.commands import CommandName, PingCommand, SignalCommand
from traffic_monitor.contract.events import (
    CONTROL_VERSION,
    EVENT_ADAPTER,
    READABLE_EVENT_VERSIONS,
    SCHEMA_VERSION,
    Event,
)
from traffic_monitor.contract.legacy import upgrade_v1_event
from traffic_monitor.contract.status import NodeStats, NodeStatus
from traffic_monitor.errors import first_field_error

MAX_MESSAGE_BYTES = 64 * 1024
"""Largest JSON message accepted (events, status, stats). Snapshots are binary and separate."""

MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024
"""Largest evidence image accepted."""

MAX_DEPTH = 16
"""Deepest JSON nesting accepted (the real messages need 3)."""

ModelT = TypeVar("ModelT", bound=BaseModel)
Validate = Callable[[bytes], ModelT]
"""Strict validation of a JSON payload into one wire model."""


class ContractError(ValueError):
    """A payload refused by the contract; the message is the reason."""


def encode(message: BaseModel) -> bytes:
    """Serialise a wire model to compact UTF-8 JSON."""
    return message.model_dump_json(exclude_none=True).encode()


def _depth_ok(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def _load(payload: bytes, versions: tuple[int, ...] = READABLE_EVENT_VERSIONS) -> dict[str, Any]:
    if len(payload) > MAX_MESSAGE_BYTES:
        raise ContractError(f"payload of {len(payload)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContractError(f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from None
    # Nesting deeper than MAX_DEPTH is refused before parsing: json recursion would cost
    # a RecursionError per message.
    if text.count("[") + text.count("{") > MAX_DEPTH and _nesting(text) > MAX_DEPTH:
        raise ContractError(f"JSON nested deeper than {MAX_DEPTH}")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ContractError(f"payload is not JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise ContractError(f"payload is a JSON {type(data).__name__}, expected an object")
    if not _depth_ok(data, MAX_DEPTH):
        raise ContractError(f"JSON nested deeper than {MAX_DEPTH}")
    version = data.get("schema_version")
    if version is None:
        raise ContractError("schema_version is missing")
    if version not in versions or isinstance(version, bool):
        expected = " or ".join(str(v) for v in versions)
        raise ContractError(f"unsupported schema_version {str(version)[:40]} (expected {expected})")
    return data


def _nesting(text: str) -> int:
    """Return the deepest bracket nesting of JSON text (strings are skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _fast_decode(payload: bytes, validate: Validate[ModelT]) -> ModelT | None:
    """Validate straight from JSON (pydantic's parser) when that cannot change the verdict.

    Taken only for small, UTF-8, shallow payloads; returns None when the payload must go
    through the checked path (which alone produces the refusal reasons).
    """
    if len(payload) > MAX_MESSAGE_BYTES or payload.count(b"[") + payload.count(b"{") > MAX_DEPTH:
        return None
    try:
        payload.decode("utf-8")
        message = validate(payload)
    except (UnicodeDecodeError, ValidationError):
        return None
    # The model defaults schema_version; the wire requires it.
    return message if "schema_version" in message.model_fields_set else None


def _decode(
    payload: bytes,
    validate: Validate[ModelT],
    name: str,
    upgrade: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> ModelT:
    fast = _fast_decode(payload, validate)
    if fast is not None:
        return fast
    # size, UTF-8, JSON, nesting and version, each refusal with its reason
    data = _load(payload, READABLE_EVENT_VERSIONS if upgrade else (CONTROL_VERSION,))
    if upgrade is not None and data["schema_version"] != SCHEMA_VERSION:
        payload = json.dumps(upgrade(data)).encode()
    try:
        # Strict, from the JSON text: no value is coerced (true or "0.5" as a number, an
        # epoch integer as a time), and NaN/Infinity are refused by the models.
        return validate(payload)
    except ValidationError as exc:
        raise _refusal(exc, name) from None


def _refusal(exc: ValidationError, name: str) -> ContractError:
    """The first failing field of a refused message, named as on the wire.

    In an event the union's tag (its ``type``) leads each error's location and is dropped;
    a missing or unknown ``type`` is reported as an error of that field.
    """
    error = exc.errors()[0]
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        tag = str(error.get("ctx", {}).get("tag", ""))[:40]
        where = f"type: unknown event type {tag!r}" if tag else "type: missing"
    elif name == "Event" and error["loc"]:
        field = ".".join(str(part) for part in error["loc"][1:]) or "(root)"
        where = f"{field}: {error['msg']}"
    else:
        where = first_field_error(exc, root="(root)")
    return ContractError(f"invalid {name}: {where} ({exc.error_count()} errors)")


def _strict(model: type[ModelT]) -> Validate[ModelT]:
    return lambda payload: model.model_validate_json(payload, strict=True)


def _strict_event(payload: bytes) -> Event:
    return EVENT_ADAPTER.validate_json(payload, strict=True)


def decode_event(payload: bytes) -> Event:
    """Decode and validate an event into the model of its type; unknown fields are ignored.

    A schema-1 event is upgraded to the schema-2 shape (counts per class and direction as rows).

    Raises:
        ContractError: The payload is refused; the message says why.
    """
    return _decode(payload, _strict_event, "Event", upgrade_v1_event)


def event_from_dict(data: dict[str, Any]) -> Event:
    """Validate an event already parsed from JSON (a stored payload), upgrading schema 1.

    Raises:
        ContractError: The data is not a valid event; the message says why.
    """
    if data.get("schema_version") == 1:
        data = upgrade_v1_event(data)
    try:
        return EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise _refusal(exc, "Event") from None


def decode_status(payload: bytes) -> NodeStatus:
    """Decode and validate a node status message.

    Raises:
        ContractError: The payload is refused; the message says why.
    """
    return _decode(payload, _strict(NodeStatus), "NodeStatus")


def decode_stats(payload: bytes) -> NodeStats:
    """Decode and validate a node statistics message.

    Raises:
        ContractError: The payload is refused; the message says why.
    """
    return _decode(payload, _strict(NodeStats), "NodeStats")


def decode_ack(payload: bytes) -> DeliveryAck:
    """Decode and validate an end-to-end delivery acknowledgement (aggregator → node).

    Raises:
        ContractError: The payload is refused; the message says why.
    """
    return _decode(payload, _strict(DeliveryAck), "DeliveryAck")


def decode_command(name: str, payload: bytes) -> SignalCommand | PingCommand:
    """Decode and validate the command ``name`` (the last level of its topic).

    Raises:
        ContractError: Unknown command name or refused payload; the message says why.
    """
    try:
        command = CommandName(name)
    except ValueError:
        raise ContractError(f"unknown command {name[:40]!r}") from None
    if command is CommandName.SIGNAL_STATE:
        return _decode(payload, _strict(SignalCommand), "SignalCommand")
    return _decode(payload, _strict(PingCommand), "PingCommand")
