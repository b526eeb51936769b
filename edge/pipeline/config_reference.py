"""The field reference of the edge config tree, written from the models themselves.

``docs/configuration.md`` holds the output between two marker lines; a test keeps it
current. Regenerate it with::

    python -m edge.pipeline.config_reference docs/configuration.md
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from edge.pipeline.config import EdgeConfig
from edge.rules.registry import BUILT_IN_RULES
from edge.scene import RuleParams, SceneConfig

BEGIN = "<!-- BEGIN GENERATED REFERENCE (python -m edge.pipeline.config_reference) -->"
END = "<!-- END GENERATED REFERENCE -->"


def config_reference() -> str:
    """Markdown tables of every field of the tree, each camera section and each rule."""
    parts = ["### The tree (`EdgeConfig`, `edge/pipeline/config.py`)\n"]
    parts += [_table(model) for model in _models(EdgeConfig, skip={SceneConfig})]
    parts.append("### A camera (`SceneConfig`, `edge/scene/config.py`)\n")
    parts += [_table(model) for model in _models(SceneConfig, skip=set())]
    parts.append("### Rules (`rules:`, by name; `edge/rules/registry.py`)\n")
    parts += [_table(rule.Params, title=f"`{rule.name}`") for rule in BUILT_IN_RULES]
    return "\n".join(parts)


def _models(root: type[BaseModel], skip: set[type[BaseModel]]) -> Iterator[type[BaseModel]]:
    """``root`` and every model its fields hold, breadth first, each once."""
    seen: list[type[BaseModel]] = [root]
    for model in seen:
        yield model
        for field in model.model_fields.values():
            for found in _nested_models(field.annotation):
                if found not in seen and found not in skip and not issubclass(found, RuleParams):
                    seen.append(found)


def _nested_models(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in get_args(annotation):
        yield from _nested_models(arg)


def _table(model: type[BaseModel], title: str | None = None) -> str:
    doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
    lines = [
        f"#### {title or '`' + model.__name__ + '`'}",
        "",
        doc,
        "",
        "| field | type | default | description |",
        "|---|---|---|---|",
    ]
    for name, field in model.model_fields.items():
        description = _cell(field.description or "")
        lines.append(
            f"| `{name}` | {_cell(_type_name(field.annotation))} | {_cell(_default(field))} "
            f"| {description} |"
        )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "(each field's default)" if _is_model(field.annotation) else "empty"
    if field.default is PydanticUndefined:
        return "required"
    if field.default is None:
        return "empty"
    if field.default == "":
        return "empty text"
    if isinstance(field.default, str | Path):
        return f"`{field.default}`"
    return f"`{field.default!r}`"


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _type_name(annotation: Any) -> str:
    """A short, readable name of a field's type."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _type_name(args[0])
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in args)
    if origin is Literal:
        return " or ".join(f"'{arg}'" for arg in args)
    if origin is not None:
        inner = ", ".join("…" if arg is Ellipsis else _type_name(arg) for arg in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if annotation is type(None):
        return "empty"
    return getattr(annotation, "__name__", str(annotation))


def write_reference(path: Path) -> bool:
    """Replace the generated block of ``path``; True when it changed."""
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    updated = f"{head}{BEGIN}\n{config_reference()}{END}{tail}"
    path.write_text(updated, encoding="utf-8")
    return updated != text


if __name__ == "__main__":
    changed = write_reference(Path(sys.argv[1]))
    sys.stdout.write(f"{sys.argv[1]}: {'updated' if changed else 'already current'}\n")
