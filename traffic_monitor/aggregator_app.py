"""The aggregator as ``traffic-monitor cloud serve`` runs it: the composition root.

The aggregator (``cloud``) declares what blurs report photos
(``cloud.reports.photos.PhotoPrivacy``) and never imports the edge; this module wires the
edge's head and plate detectors in. ``create`` is the uvicorn factory of every worker
process of ``cloud serve --workers N``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

FACTORY = "traffic_monitor.aggregator_app:create"
"""Import path of :func:`create`, as uvicorn's worker processes load it."""


def edge_photo_privacy() -> Any:
    """The edge's head and plate detectors, as ``cloud serve`` blurs report photos with."""
    from edge.privacy.photos import shared_photo_privacy

    return shared_photo_privacy()


def create() -> FastAPI:
    """A worker process's aggregator: the settings ``cloud serve`` handed it, photo privacy."""
    from cloud.api.app import create_app, settings_from_environment

    return create_app(settings_from_environment(), photo_privacy=edge_photo_privacy())
