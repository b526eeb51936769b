"""Latitude/longitude to a local metric frame (east, north in metres).

The conversion is exact WGS-84 geodetic → ECEF → local east-north-up at a reference
point, with the height taken as constant (the road plane). Over the few hundred
metres a camera sees, the tangent plane differs from the ground by millimetres.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

from calibration.camera import CalibrationError

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

WGS84_A = 6378137.0
"""WGS-84 semi-major axis in metres."""
WGS84_F = 1.0 / 298.257223563
"""WGS-84 flattening."""
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
"""WGS-84 first eccentricity squared."""

MAX_EXTENT_M = 5000.0
"""A camera scene larger than this is probably a typo in the coordinates."""


def _ecef(lat_lon: FloatArray, height: float) -> FloatArray:
    lat = np.radians(lat_lon[:, 0])
    lon = np.radians(lat_lon[:, 1])
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * np.sin(lat) ** 2)
    x = (n + height) * np.cos(lat) * np.cos(lon)
    y = (n + height) * np.cos(lat) * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + height) * np.sin(lat)
    return np.stack([x, y, z], axis=1)


def check_lat_lon(lat_lon: npt.ArrayLike) -> FloatArray:
    """Return ``(N, 2)`` latitude/longitude in degrees, refusing impossible values.

    Raises:
        CalibrationError: Wrong shape, latitude outside ±90 or longitude outside ±180.
    """
    array = np.asarray(lat_lon, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise CalibrationError(f"lat/lon must have shape (N, 2), got {array.shape}")
    if np.any(np.abs(array[:, 0]) > 90.0) or np.any(np.abs(array[:, 1]) > 180.0):
        raise CalibrationError("latitude must be within ±90° and longitude within ±180°")
    return array


def lat_lon_to_local(
    lat_lon: npt.ArrayLike, origin: tuple[float, float] | None = None
) -> tuple[FloatArray, tuple[float, float]]:
    """Convert latitude/longitude (degrees) to east/north metres around an origin.

    Args:
        lat_lon: ``(N, 2)`` array of ``[latitude, longitude]`` in degrees (WGS-84).
        origin: ``(lat, lon)`` of the local frame's origin; default: the first point.

    Returns:
        ``(N, 2)`` east, north in metres, and the origin used.

    Raises:
        CalibrationError: Bad coordinates, or points spread over more than
            :data:`MAX_EXTENT_M` (probably swapped latitude/longitude or a typo).
    """
    points = check_lat_lon(lat_lon)
    if origin is None:
        origin = (float(points[0, 0]), float(points[0, 1]))
    ref = check_lat_lon([origin])
    lat0, lon0 = np.radians(ref[0])
    delta = _ecef(points, 0.0) - _ecef(ref, 0.0)
    east_axis = np.array([-np.sin(lon0), np.cos(lon0), 0.0])
    north_axis = np.array(
        [-np.sin(lat0) * np.cos(lon0), -np.sin(lat0) * np.sin(lon0), np.cos(lat0)]
    )
    local = np.stack([delta @ east_axis, delta @ north_axis], axis=1)
    extent = float(np.ptp(local, axis=0).max()) if len(local) else 0.0
    if extent > MAX_EXTENT_M:
        raise CalibrationError(
            f"the lat/lon points span {extent:.0f} m; a camera sees far less "
            "(are latitude and longitude swapped, or a digit wrong?)"
        )
    return local, (float(origin[0]), float(origin[1]))


def local_to_lat_lon(local: npt.ArrayLike, origin: tuple[float, float]) -> FloatArray:
    """Inverse of :func:`lat_lon_to_local` for points on the reference ellipsoid.

    Iterates the small-offset inverse twice, which is exact to well under a millimetre
    over a camera's extent.
    """
    target = np.asarray(local, dtype=np.float64).reshape(-1, 2)
    lat0, lon0 = origin
    m = WGS84_A * (1 - WGS84_E2) / (1 - WGS84_E2 * np.sin(np.radians(lat0)) ** 2) ** 1.5
    n = WGS84_A / np.sqrt(1 - WGS84_E2 * np.sin(np.radians(lat0)) ** 2)
    guess = np.stack(
        [
            lat0 + np.degrees(target[:, 1] / m),
            lon0 + np.degrees(target[:, 0] / (n * np.cos(np.radians(lat0)))),
        ],
        axis=1,
    )
    for _ in range(3):
        current, _ = lat_lon_to_local(guess, origin)
        error = target - current
        guess[:, 0] += np.degrees(error[:, 1] / m)
        guess[:, 1] += np.degrees(error[:, 0] / (n * np.cos(np.radians(lat0))))
    return guess
