"""One node identity (site, node), resolved once from the config and never rewritten.

The site and node of every event are chosen where the event is made (the scene's
``camera.site`` and the pipeline's node id), and the MQTT topics the node may write are
bound to the same pair by the broker's ACL. The publisher therefore never restamps an event:
a camera whose scene names another site than the node's ``transport.mqtt.site_id`` is
refused when the config is loaded (:func:`check_camera_sites`), and an event that still
disagrees is refused by the publisher (:class:`IdentityError`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from traffic_monitor.errors import UserFacingError


class IdentityError(ValueError):
    """An event names another site or node than the publisher's own."""


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """The (site, node) pair of an edge node: its topic prefix and its ACL user."""

    site_id: str
    node_id: str

    def __str__(self) -> str:
        return f"{self.site_id}/{self.node_id}"


def check_camera_sites(
    identity: NodeIdentity, cameras: Iterable[tuple[str, str]], origin: str
) -> None:
    """Refuse cameras whose scene names another site than the node's.

    Args:
        identity: The node's identity (``transport.mqtt.site_id`` / ``node_id``).
        cameras: (camera id, ``camera.site`` of its scene) pairs.
        origin: The config file, for the message.

    Raises:
        UserFacingError: At least one camera belongs to another site; every one is named.
    """
    wrong = [f"{cam} (camera.site: {site})" for cam, site in cameras if site != identity.site_id]
    if wrong:
        raise UserFacingError(
            f"{origin}: transport.mqtt.site_id is {identity.site_id!r} but the scene of "
            f"{', '.join(wrong)} names another site; a node publishes for its own site only "
            "(set camera.site to the node's site, or run that camera on a node of its site)"
        )
