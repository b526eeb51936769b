"""The cameras table: where each camera stands and the edge node that may publish for it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, UtcDateTime


class CameraRecord(Base):
    """A camera's position and name (scene config ``camera:`` section) and its node.

    ``node_id`` binds the camera to one edge node: set when the camera is registered from
    the node's ``edge run`` config, else by the first node whose event for it is stored;
    the consumer refuses the camera's messages from any other node.
    """

    __tablename__ = "cameras"

    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str | None] = mapped_column(String(64))
    """The edge node allowed to publish for the camera: registered, or the first one seen."""
    name: Mapped[str] = mapped_column(String(200), default="")
    name_vi: Mapped[str] = mapped_column(String(200), default="", server_default="")
    name_en: Mapped[str] = mapped_column(String(200), default="", server_default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    heading_deg: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_cameras_lat_lon", "lat", "lon"),)
