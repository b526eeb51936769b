"""Motion of a track from its bounded history: displacement, pixel and road-plane speed."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.compiled import compiled
from edge.rules import robust_fit
from edge.rules.base import WorldTransform
from edge.scene.transform import HomographyTransform
from edge.tracking import Track
from edge.tracking.recovery import recent_history
from edge.tracking.track import TrackPoint

MPS_TO_KMH = 3.6


@dataclass(frozen=True)
class SpeedEstimate:
    """A smoothed speed with its one-sigma uncertainty, in the units of the positions per s."""

    speed: float
    uncertainty: float
    span_s: float
    samples: int


def recent_points(
    track: Track, window_s: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Timestamps ``(N,)`` and anchor points ``(N, 2)`` of the last ``window_s`` seconds."""
    times, xy, _ = recent_boxes(track, window_s)
    return times, xy


def recent_boxes(
    track: Track, window_s: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Timestamps ``(N,)``, anchors ``(N, 2)`` and box heights ``(N,)`` of the last ``window_s``.

    A height is NaN where the history point does not know its box's top edge.
    """
    if not track.history:
        return np.empty(0), np.empty((0, 2)), np.empty(0)
    newest = track.history[-1]
    last, previous = track.windows.get(window_s, (None, None))
    if isinstance(previous, _Window) and last is newest:
        return previous.arrays
    if isinstance(previous, _Window) and len(track.history) > 1 and track.history[-2] is last:
        rows = _slid_rows(previous.rows, newest, window_s, len(track.history))
    else:
        points = recent_history(track, window_s)
        rows = np.array([(p.timestamp, p.x, p.y, p.top) for p in points], dtype=np.float64)
        rows = rows.reshape(-1, 4)
    # Several rules read the same window on every frame: its arrays are made once per new
    # history point, read-only, as every caller shares them.
    window = _Window(rows)
    track.windows[window_s] = (newest, window)
    return window.arrays


class _Window:
    """One window of a track's history as arrays (rows of timestamp, x, y, top; read-only)."""

    def __init__(self, rows: npt.NDArray[np.float64]) -> None:
        rows.flags.writeable = False
        heights = rows[:, 2] - rows[:, 3]  # TrackPoint.height
        heights.flags.writeable = False
        self.rows = rows
        self.arrays = (rows[:, 0], rows[:, 1:3], heights)


def _slid_rows(
    previous: npt.NDArray[np.float64], newest: TrackPoint, window_s: float, history: int
) -> npt.NDArray[np.float64]:
    """The window ending at ``newest`` from the previous frame's window of the same length.

    ``newest`` is the one point added since: the new window is the previous one's tail still
    within ``window_s`` of it (the same test and stop as :func:`recent_history`: walking back
    from the newest, stop at the first point older than the window), plus ``newest``, and no
    longer than the bounded history. The same rows as building the window from the history
    again, without turning every point into an array row on every frame.
    """
    point = (newest.timestamp, newest.x, newest.y, newest.top)
    return _slide(previous, point, float(window_s), int(history))


@compiled
def _slide(
    previous: npt.NDArray[np.float64],
    point: tuple[float, float, float, float],
    window_s: float,
    history: int,
) -> npt.NDArray[np.float64]:
    """:func:`_slid_rows` as one compiled call (it runs per track, window length and frame)."""
    start = 0
    for row in range(len(previous) - 1, -1, -1):
        if point[0] - previous[row, 0] > window_s:
            start = row + 1
            break
    start = max(start, len(previous) + 1 - history)
    kept = len(previous) - start
    rows = np.empty((kept + 1, 4))
    rows[:kept] = previous[start:]
    rows[kept, 0], rows[kept, 1], rows[kept, 2], rows[kept, 3] = point
    return rows


def fit_speed(
    times: npt.NDArray[np.float64], xy: npt.NDArray[np.float64], position_error: float
) -> SpeedEstimate | None:
    """Least-squares velocity over a window: robust to jitter, with an uncertainty.

    The uncertainty combines the residual scatter of the fit with ``position_error`` (a
    systematic per-point error such as calibration, in the units of ``xy``) over the span.
    None with fewer than three points or no time span.
    """
    fit = robust_fit.least_squares(_floats(times), _floats(xy))
    return _estimate(fit, position_error)


def _estimate(
    fit: tuple[float, float, float, int], position_error: float, min_span_s: float = 0.0
) -> SpeedEstimate | None:
    """A compiled fit ``(speed, slope sigma, span, samples)`` with the systematic error added."""
    speed, slope_sigma, span, samples = fit
    if samples < 3 or span <= 0 or span < min_span_s:
        return None
    systematic = position_error * math.sqrt(2.0) / span
    return SpeedEstimate(speed, math.hypot(slope_sigma, systematic), span, samples)


def _floats(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """A writable C-ordered float64 copy: the one array type the compiled kernels are built for.

    (numba compiles a kernel again for every layout and read-only flag it is given; a copy
    of a few dozen numbers costs less than a second compilation.)
    """
    return np.array(values, dtype=np.float64, order="C")


@dataclass(frozen=True)
class JumpFilter:
    """Which anchors of a speed window are left out before the fit, and why.

    A track's anchor can jump without the vehicle moving there: the tracker hands the id to
    another vehicle (an id switch, or a lost track re-associated with the wrong vehicle), or
    the detector's box swallows a neighbour for a few frames so its bottom edge jumps. A
    least-squares fit across such a jump averages two motions. Steps between consecutive
    anchors are compared with the median velocity of their neighbouring steps; a step further
    off than ``max(floor, sigmas × robust step scatter)`` is a jump. A run of at most ``max_glitch``
    anchors between two jumps whose neighbours agree with each other is dropped; otherwise
    the window is cut at the newest jump and only the anchors after it are used.

    Attributes:
        floor: Smallest jump, in the units of the positions (metres on the road plane).
        sigmas: Jump threshold in robust standard deviations of the step deviations.
        max_glitch: Longest run of bad anchors dropped instead of cutting the window.
        neighbours: Steps on each side whose median velocity a step is compared with.
    """

    floor: float = 1.0
    sigmas: float = 6.0
    max_glitch: int = 3
    neighbours: int = 4


ROAD_JUMPS = JumpFilter()
"""Jump filter for anchors on the road plane (metres)."""


@dataclass(frozen=True)
class RigidCheck:
    """Leave out anchors whose box height does not fit a rigid vehicle (a sliding bottom edge).

    The detector's box can slide off a vehicle for a few frames, its bottom edge drifting onto
    the road while the vehicle and the box's top edge move on as before. The anchor then moves
    with no jump, so ``JumpFilter`` keeps it, and the fitted speed follows the drift. The box
    height tells such anchors apart: a rigid vehicle's height in pixels times the metres per
    pixel at its anchor (the horizontal scale of the road at that image point, which is the
    scale of an upright object standing there) is its height in metres, the same in every
    frame; perspective alone cannot change it. When the bottom edge slides by ``d`` pixels on
    a box ``h`` pixels high, that implied height changes by about ``d / h × (1 - vehicle
    height / camera height)``, so a drift of a tenth of the box stands out against the
    pixel-level jitter of the two edges. Anchors whose implied height is off the median of the
    window by more than ``max_relative`` are left out of the fit.

    Attributes:
        max_relative: Largest relative deviation of an anchor's implied height from the
            window's median.
        min_points: Fewest anchors with a known height for the check to run.
    """

    max_relative: float = 0.12
    min_points: int = 5


RIGID_VEHICLE = RigidCheck()
"""Height consistency check for vehicle boxes on the road plane."""


def _jump_args(jumps: JumpFilter) -> robust_fit.JumpArgs:
    return float(jumps.floor), float(jumps.sigmas), int(jumps.max_glitch), int(jumps.neighbours)


def _rigid_args(rigid: RigidCheck) -> robust_fit.RigidArgs:
    return float(rigid.max_relative), int(rigid.min_points)


def _fit_args(
    jumps: JumpFilter | None, rigid: RigidCheck | None, sizes: npt.NDArray[np.float64] | None
) -> tuple[robust_fit.JumpArgs | None, robust_fit.RigidArgs | None]:
    """The filters as the kernels take them (the height check only with heights)."""
    return (
        None if jumps is None else _jump_args(jumps),
        None if rigid is None or sizes is None else _rigid_args(rigid),
    )


def consistent_points(
    times: npt.NDArray[np.float64], xy: npt.NDArray[np.float64], jumps: JumpFilter
) -> npt.NDArray[np.bool_]:
    """Mask of the window's anchors that one vehicle's smooth motion explains (see JumpFilter).

    Repeated until no jump is left among the kept anchors (a cut changes the median velocity).
    """
    return robust_fit.consistent(_floats(times), _floats(xy).reshape(-1, 2), _jump_args(jumps))


def rigid_points(sizes: npt.NDArray[np.float64], rigid: RigidCheck) -> npt.NDArray[np.bool_]:
    """Mask of the anchors whose implied vehicle height agrees with the window (RigidCheck).

    Anchors of unknown height (NaN) are kept; with fewer than ``rigid.min_points`` known
    heights every anchor is kept.
    """
    return robust_fit.rigid(_floats(sizes), float(rigid.max_relative), int(rigid.min_points))


def kept_points(
    times: npt.NDArray[np.float64],
    xy: npt.NDArray[np.float64],
    jumps: JumpFilter | None = ROAD_JUMPS,
    sizes: npt.NDArray[np.float64] | None = None,
    rigid: RigidCheck | None = RIGID_VEHICLE,
) -> npt.NDArray[np.bool_]:
    """Mask of the window's anchors a speed is fitted on.

    Non-finite positions are left out, then jumps (``JumpFilter``), then, among the anchors
    left, those whose box height does not fit a rigid vehicle (``RigidCheck``, when
    ``sizes`` are given).

    Args:
        times: ``(N,)`` timestamps, seconds, increasing.
        xy: ``(N, 2)`` positions.
        jumps: Jump filter; None keeps jumps.
        sizes: ``(N,)`` implied vehicle heights (see ``implied_heights``); None: no check.
        rigid: Height check; None: no check.
    """
    return robust_fit.kept(*_fit_arrays(times, xy, sizes), *_fit_args(jumps, rigid, sizes))


def _fit_arrays(
    times: npt.NDArray[np.float64],
    xy: npt.NDArray[np.float64],
    sizes: npt.NDArray[np.float64] | None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    return _floats(times), _floats(xy).reshape(-1, 2), _floats(() if sizes is None else sizes)


def robust_speed(
    times: npt.NDArray[np.float64],
    xy: npt.NDArray[np.float64],
    position_error: float,
    jumps: JumpFilter | None = ROAD_JUMPS,
    min_span_s: float = 0.0,
    *,
    sizes: npt.NDArray[np.float64] | None = None,
    rigid: RigidCheck | None = RIGID_VEHICLE,
) -> SpeedEstimate | None:
    """``fit_speed`` over the anchors ``kept_points`` keeps (None: too few or too short a span).

    Args:
        times: ``(N,)`` timestamps, seconds, increasing.
        xy: ``(N, 2)`` positions.
        position_error: Systematic per-point error, units of ``xy`` (see ``fit_speed``).
        jumps: Jump filter; None fits every point.
        min_span_s: No estimate when the kept anchors span less than this.
        sizes: ``(N,)`` implied vehicle heights for ``rigid``; None: no height check.
        rigid: Height check (see ``RigidCheck``); None: no check.
    """
    fit = robust_fit.robust_fit(*_fit_arrays(times, xy, sizes), *_fit_args(jumps, rigid, sizes))
    return _estimate(fit, position_error, min_span_s)


def implied_heights(
    xy: npt.NDArray[np.float64], heights: npt.NDArray[np.float64], transform: WorldTransform
) -> npt.NDArray[np.float64]:
    """Box heights ``(N,)`` in pixels turned into metres at their anchors ``(N, 2)``.

    The scale is the road-plane length of one pixel along the image row through the anchor:
    for a camera without roll that row is parallel to the image plane, so it is also the
    scale of an upright object standing at the anchor. NaN where a height is unknown.
    """
    if len(xy) == 0:
        return np.empty(0)
    return _world_and_heights(xy, heights, transform)[1]


def pixel_speed(track: Track, window_s: float) -> SpeedEstimate | None:
    """Speed of the anchor in pixels per second over the window."""
    times, xy = recent_points(track, window_s)
    return fit_speed(times, xy, 0.0)


def world_speed(
    track: Track,
    transform: WorldTransform,
    window_s: float,
    error_m: float,
    *,
    jumps: JumpFilter | None = ROAD_JUMPS,
    min_span_s: float = 0.0,
    bottom_px: float | None = None,
    rigid: RigidCheck | None = RIGID_VEHICLE,
) -> SpeedEstimate | None:
    """Speed on the road plane in metres per second over the window.

    Args:
        track: The track (its anchor history).
        transform: Pixels to road metres.
        window_s: Seconds of history fitted.
        error_m: Calibration position error, metres (widens the uncertainty).
        jumps: Anchors of id switches and swallowed neighbours left out (see ``JumpFilter``);
            None fits every anchor.
        min_span_s: No estimate from kept anchors spanning less than this.
        bottom_px: Row below which anchors are left out: a box cut by the bottom of the
            frame has its bottom edge there, not at the vehicle's contact point (None: keep).
        rigid: Anchors whose box height does not fit a rigid vehicle left out (see
            ``RigidCheck``); None: no check.
    """
    fit = road_fit(track, transform, window_s, jumps=jumps, bottom_px=bottom_px, rigid=rigid)
    return with_calibration_error(fit, error_m, min_span_s)


def road_fit(
    track: Track,
    transform: WorldTransform,
    window_s: float,
    *,
    jumps: JumpFilter | None = ROAD_JUMPS,
    bottom_px: float | None = None,
    rigid: RigidCheck | None = RIGID_VEHICLE,
) -> SpeedEstimate | None:
    """The part of :func:`world_speed` that does not depend on the calibration error or span.

    Returns:
        The least-squares fit over the kept road-plane anchors with the residual scatter as
        its only uncertainty (``fit_speed`` with no position error); None with fewer than
        three anchors or no time span.
    """
    times, xy, heights = recent_boxes(track, window_s)
    if bottom_px is not None:
        inside = xy[:, 1] < bottom_px
        times, xy, heights = times[inside], xy[inside], heights[inside]
    if len(times) < 3:
        return None
    if isinstance(transform, HomographyTransform) and rigid is not None:
        fit = robust_fit.homography_fit(
            *_fit_arrays(times, xy, heights), transform.matrix, *_fit_args(jumps, rigid, heights)
        )
        return _estimate(fit, 0.0)
    if rigid is None:
        world = np.asarray(transform.image_to_world(xy), dtype=np.float64)
        return robust_speed(times, world, 0.0, jumps, rigid=None)
    world, sizes = _world_and_heights(xy, heights, transform)
    return robust_speed(times, world, 0.0, jumps, sizes=sizes, rigid=rigid)


def _world_and_heights(
    xy: npt.NDArray[np.float64], heights: npt.NDArray[np.float64], transform: WorldTransform
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Road-plane anchors and :func:`implied_heights`, with one transform call for both."""
    count = len(xy)
    half = np.array([0.5, 0.0])
    mapped = np.asarray(
        transform.image_to_world(np.concatenate([xy, xy - half, xy + half])), dtype=np.float64
    )
    scale = np.hypot(*(mapped[2 * count :] - mapped[count : 2 * count]).T)
    return mapped[:count], np.asarray(heights * scale, dtype=np.float64)


def with_calibration_error(
    fit: SpeedEstimate | None, error_m: float, min_span_s: float = 0.0
) -> SpeedEstimate | None:
    """``fit`` (from :func:`road_fit`) with the calibration error added to its uncertainty.

    Gives exactly what ``fit_speed`` with ``position_error=error_m`` gives on the same
    anchors; None when ``fit`` is None or spans less than ``min_span_s``.
    """
    if fit is None or fit.span_s < min_span_s:
        return None
    if error_m == 0.0:
        return fit
    systematic = error_m * math.sqrt(2.0) / fit.span_s
    uncertainty = math.hypot(fit.uncertainty, systematic)
    return SpeedEstimate(fit.speed, uncertainty, fit.span_s, fit.samples)


def box_at_frame_edge(
    box: npt.ArrayLike, image_size: tuple[int, int], margin_px: float = 4.0
) -> bool:
    """True when a box ``[x1, y1, x2, y2]`` reaches the left, right or bottom frame edge.

    Such a box is cut off by the frame, so its bottom centre is not the vehicle's contact
    point: its speed is not measured (the top edge does not matter to the bottom anchor).

    Args:
        box: The box in pixels.
        image_size: ``(width, height)`` of the frame.
        margin_px: Distance from an edge that counts as touching it.
    """
    x1, _, x2, y2 = (float(v) for v in np.asarray(box, dtype=np.float64)[:4])
    width, height = image_size
    return x1 <= margin_px or x2 >= width - margin_px or y2 >= height - margin_px


def is_stationary(track: Track, window_s: float, max_move_fraction: float) -> bool:
    """True when the anchor moved less than ``max_move_fraction`` × box height over the window.

    Scaling by the box height makes one threshold work near and far from the camera.
    """
    times, xy = recent_points(track, window_s)
    if len(times) < 2 or times[-1] - times[0] < 0.5 * window_s:
        return False
    height = float(track.box[3] - track.box[1]) or 1.0
    limit = max_move_fraction * height
    (x0, y0), (x1, y1) = xy[0].tolist(), xy[-1].tolist()
    if math.hypot(x1 - x0, y1 - y0) > 2 * limit:
        # Every anchor pair is at most twice the spread apart: a vehicle that is moving
        # is told without the spread (most tracks on most frames).
        return False
    spread = float(np.max(np.hypot(*(xy - xy.mean(axis=0)).T)))
    return spread <= limit


def warm_up() -> None:
    """Compile, or load from the cache, the compiled steps of the speed and window code."""
    robust_fit.warm_up()
    rows = np.zeros((3, 4))
    rows[:, 0] = [0.0, 0.1, 0.2]
    rows.flags.writeable = False  # windows are shared read-only
    _slide(rows, (0.3, 0.0, 0.0, 0.0), 1.0, 10)
