"""The aggregator's HTTP API: app factory, settings, auth and roles, events and alerts."""

from cloud.api.app import create_app
from cloud.api.settings import ApiSettings, load_settings

__all__ = ["ApiSettings", "create_app", "load_settings"]
