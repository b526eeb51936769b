"""The ``calibration:`` section of a camera: inline point pairs or a stored calibration file.

Either form gives the rules a ``WorldTransform`` (pixels → road-plane metres) through
:func:`edge.scene.transform.world_transform`:

- inline ``image_points`` / ``world_points`` (:class:`Homography`): a plane homography;
- ``file:`` (:class:`CalibrationReference`): a file made by ``traffic-monitor calibrate``
  (``calibration.store``), whose :class:`calibration.CameraModel` also undoes the lens
  distortion and may carry a geo reference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    model_validator,
)

from calibration import CalibrationFile, read_calibration

Point = tuple[float, float]


class Homography(BaseModel):
    """Road-plane calibration by four or more point pairs (image pixels ↔ metres)."""

    model_config = ConfigDict(extra="forbid")

    image_points: list[Point] = Field(min_length=4, description="Points in native pixels.")
    world_points: list[Point] = Field(min_length=4, description="Same points on the road, metres.")
    error_m: float = Field(
        default=0.5, ge=0, description="Typical position error of the calibration, metres."
    )

    @model_validator(mode="after")
    def _same_length(self) -> Homography:
        if len(self.image_points) != len(self.world_points):
            raise ValueError(
                f"image_points has {len(self.image_points)} points, world_points "
                f"{len(self.world_points)}: they must pair up"
            )
        return self


class CalibrationReference(BaseModel):
    """A calibration file made by ``traffic-monitor calibrate``, read when the config is read."""

    model_config = ConfigDict(extra="forbid")

    file: Path = Field(
        description="Calibration YAML or JSON (lens distortion, homography, geo reference). "
        "A relative path is resolved against the camera config's folder."
    )
    error_m: float = Field(
        default=0.5, ge=0, description="Typical position error of the calibration, metres."
    )
    _stored: CalibrationFile | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _read_file(self, info: ValidationInfo) -> CalibrationReference:
        base = (info.context or {}).get("base")
        if not self.file.is_absolute() and base is not None:
            self.file = Path(base) / self.file
        self._stored = read_calibration(self.file)
        return self

    @property
    def stored(self) -> CalibrationFile:
        """The file's validated content."""
        if self._stored is None:  # built with model_construct: read it now
            self._stored = read_calibration(self.file)
        return self._stored


def _calibration_form(value: Any) -> str:
    """``file`` for a reference to a stored calibration, ``points`` for inline pairs."""
    if isinstance(value, CalibrationReference) or (isinstance(value, dict) and "file" in value):
        return "file"
    return "points"


CalibrationSection = Annotated[
    Annotated[Homography, Tag("points")] | Annotated[CalibrationReference, Tag("file")],
    Discriminator(_calibration_form),
]
"""A camera's calibration: inline point pairs, or ``file:`` with a stored calibration."""
