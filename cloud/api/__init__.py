"""The aggregator's HTTP API: app factory, settings, auth and roles, events and alerts.

``create_app``, ``ApiSettings`` and ``load_settings`` are imported on first use, so that the
consumer can use the API's tables (alert cards) without importing FastAPI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cloud.api.app import create_app
    from cloud.api.settings import ApiSettings, load_settings

__all__ = ["ApiSettings", "create_app", "load_settings"]

_WHERE = {
    "create_app": "cloud.api.app",
    "ApiSettings": "cloud.api.settings",
    "load_settings": "cloud.api.settings",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
