"""Camera geometry: image pixels to road-plane metres.

Other code uses :class:`CameraModel` (``image_to_world`` / ``world_to_image``) loaded with
:func:`load_calibration`.
"""

from calibration.camera import CalibrationError, CameraModel, LensModel
from calibration.fit import FitResult, fit_points
from calibration.geo import lat_lon_to_local
from calibration.store import CalibrationFile, load_calibration, read_calibration, save_calibration

__all__ = [
    "CalibrationError",
    "CalibrationFile",
    "CameraModel",
    "FitResult",
    "LensModel",
    "fit_points",
    "lat_lon_to_local",
    "load_calibration",
    "read_calibration",
    "save_calibration",
]
