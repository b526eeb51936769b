"""Reading the YAML files a person writes (scene, edge and placement configs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from traffic_monitor.errors import UserFacingError


def read_yaml_mapping(path: Path, what: str = "") -> dict[str, Any]:
    """The top-level mapping of a YAML file, or a one-line error a person can act on.

    Args:
        path: The file.
        what: What the file is, named in the "cannot read" message (e.g. ``"scene config"``).

    Raises:
        UserFacingError: The file cannot be read, is not YAML, or is not a mapping.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        named = f"{what} " if what else ""
        raise UserFacingError(f"cannot read {named}{path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise UserFacingError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise UserFacingError(f"{path}: expected a mapping at the top level")
    return raw
