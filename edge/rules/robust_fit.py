"""Compiled kernels of the robust speed fit: jump filter, rigid-vehicle check, least squares.

Why compiled (numba) and not numpy: a speed window holds 10–60 anchors, and the fit runs for
every moving track on every frame. On arrays that small numpy's cost is its per-call
overhead, about forty calls per window (neighbour medians, deviations, masks, sums), which
made the fit 0.1 ms per track and the costliest step of the rules on a busy road. The same
steps as loops compiled by numba (``edge.compiled``) take a few microseconds and give the
same masks; sums may differ from numpy's pairwise ones in the last bit.

The functions here take plain arrays and numbers (the dataclasses of ``kinematics`` are
unpacked by its wrappers, which are the public API).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from edge.compiled import compiled

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
JumpArgs = tuple[float, float, int, int]
"""``kinematics.JumpFilter`` as numbers: floor, sigmas, max_glitch, neighbours."""
RigidArgs = tuple[float, int]
"""``kinematics.RigidCheck`` as numbers: max_relative, min_points."""
FLT_EPSILON = float(np.finfo(np.float32).eps)
"""OpenCV's ``perspectiveTransform`` maps points with ``|w|`` at most this to the origin."""


@compiled
def median(values: FloatArray) -> float:
    """The median of a 1-D array without NaN (``np.median``'s value): middle one or two."""
    ordered = np.sort(values)
    count = len(ordered)
    return float((ordered[(count - 1) // 2] + ordered[count // 2]) / 2)


@compiled
def neighbour_medians(rates: FloatArray, neighbours: int) -> FloatArray:
    """Per row of ``rates`` ``(N, 2)``: the per-column median of its neighbours.

    Up to ``neighbours`` rows on each side, the row itself left out; a row with no
    neighbour keeps its own value.
    """
    count = len(rates)
    medians = np.empty((count, 2))
    around = np.empty(2 * neighbours)
    for row in range(count):
        for column in range(2):
            taken = 0
            for other in range(max(row - neighbours, 0), min(row + neighbours + 1, count)):
                if other != row:
                    around[taken] = rates[other, column]
                    taken += 1
            if taken == 0:
                medians[row, column] = rates[row, column]
            else:
                medians[row, column] = median(around[:taken])
    return medians


@compiled
def smooth(times: FloatArray, xy: FloatArray, floor: float) -> bool:
    """True when no step of the window can be a jump (the filter would keep every anchor).

    A step's local velocity is a median of other steps' velocities, so each of its
    components lies within the range of that component over the window; a step then
    deviates from it by at most ``hypot(ranges) × dt``. When that bound stays under the jump
    floor for every step, no step is a jump.
    """
    count = len(times)
    if count < 3:
        return True
    longest = 0.0
    low_x = low_y = math.inf
    high_x = high_y = -math.inf
    for step in range(count - 1):
        dt = times[step + 1] - times[step]
        if dt <= 0.0:
            return False
        longest = max(longest, dt)
        rate_x = (xy[step + 1, 0] - xy[step, 0]) / dt
        rate_y = (xy[step + 1, 1] - xy[step, 1]) / dt
        low_x, high_x = min(low_x, rate_x), max(high_x, rate_x)
        low_y, high_y = min(low_y, rate_y), max(high_y, rate_y)
    return math.hypot(high_x - low_x, high_y - low_y) * longest <= 0.999 * floor


@compiled
def drop_jumps(times: FloatArray, xy: FloatArray, jump_filter: JumpArgs) -> BoolArray:
    """One pass of the jump filter (see ``kinematics.JumpFilter``).

    Returns:
        The keep-mask after dropping glitches and cutting at the newest remaining jump.
    """
    floor, sigmas, max_glitch, neighbours = jump_filter
    steps_count = len(times) - 1
    dt = times[1:] - times[:-1]
    steps = xy[1:] - xy[:-1]
    rates = np.empty((steps_count, 2))
    for step in range(steps_count):
        rates[step] = steps[step] / max(dt[step], 1e-9)
    velocity = neighbour_medians(rates, neighbours)
    deviations = np.empty(steps_count)
    for step in range(steps_count):
        deviations[step] = math.hypot(
            steps[step, 0] - velocity[step, 0] * dt[step],
            steps[step, 1] - velocity[step, 1] * dt[step],
        )
    limit = max(floor, sigmas * 1.4826 * median(deviations))
    bad = deviations > limit
    keep = np.ones(len(times), dtype=np.bool_)
    for start in range(steps_count):  # step `start`: anchor start -> start + 1
        if not bad[start]:
            continue
        for end in range(start + 1, min(start + 1 + max_glitch, steps_count)):
            if not bad[end]:
                continue
            # anchors start+1 .. end are a glitch if start and end + 1 agree with each other
            span = times[end + 1] - times[start]
            gap_x = xy[end + 1, 0] - xy[start, 0] - velocity[start, 0] * span
            gap_y = xy[end + 1, 1] - xy[start, 1] - velocity[start, 1] * span
            if math.hypot(gap_x, gap_y) <= limit:
                keep[start + 1 : end + 1] = False
                bad[start : end + 1] = False
            break
    for step in range(steps_count - 1, -1, -1):
        if bad[step]:
            keep[: step + 1] = False
            break
    return keep


@compiled
def consistent(times: FloatArray, xy: FloatArray, jump_filter: JumpArgs) -> BoolArray:
    """Mask of the anchors one vehicle's smooth motion explains.

    :func:`drop_jumps` repeated until no jump is left among the kept anchors (a cut changes
    the median velocity).
    """
    keep = np.ones(len(times), dtype=np.bool_)
    if smooth(times, xy, jump_filter[0]):
        return keep
    for _ in range(len(times)):
        index = np.flatnonzero(keep)
        if len(index) < 3:
            break
        dropped = drop_jumps(times[index], xy[index], jump_filter)
        if dropped.all():
            break
        keep[index[~dropped]] = False
    return keep


@compiled
def rigid(sizes: FloatArray, max_relative: float, min_points: int) -> BoolArray:
    """Mask of the anchors whose implied height is near the median of the known ones.

    An anchor is left out when off that median by more than ``max_relative``; unknown
    heights (NaN, ≤ 0) are kept, and every anchor is with fewer than ``min_points`` known.
    """
    keep = np.ones(len(sizes), dtype=np.bool_)
    known = np.isfinite(sizes) & (sizes > 0)
    if int(known.sum()) < min_points:
        return keep
    reference = median(sizes[known])
    for row in range(len(sizes)):
        if known[row] and abs(sizes[row] / reference - 1.0) > max_relative:
            keep[row] = False
    return keep


@compiled
def kept(
    times: FloatArray,
    xy: FloatArray,
    sizes: FloatArray,
    jump_filter: JumpArgs | None,
    rigid_check: RigidArgs | None,
) -> BoolArray:
    """Mask of the anchors a speed is fitted on.

    Finite anchors, then :func:`consistent` (with a ``jump_filter``), then :func:`rigid` on
    those left (with a ``rigid_check`` and ``sizes``, one per anchor).

    ``jump_filter`` is ``(floor, sigmas, max_glitch, neighbours)``, ``rigid_check`` is
    ``(max_relative, min_points)``; None leaves the step out.
    """
    keep = np.empty(len(times), dtype=np.bool_)
    for row in range(len(times)):
        keep[row] = np.isfinite(xy[row, 0]) and np.isfinite(xy[row, 1])
    index = np.flatnonzero(keep)
    if len(index) < 3:
        return keep
    if jump_filter is not None:
        index = index[consistent(times[index], xy[index], jump_filter)]
    if rigid_check is not None and len(sizes) == len(times):
        max_relative, min_points = rigid_check
        index = index[rigid(sizes[index], max_relative, min_points)]
    keep[:] = False
    keep[index] = True
    return keep


@compiled
def least_squares(times: FloatArray, xy: FloatArray) -> tuple[float, float, float, int]:
    """Velocity fit over a window: ``(speed, slope sigma, span, samples)``; span ≤ 0: no fit.

    The slope sigma is the residual scatter of the fit; samples below 3 give a span of 0.
    """
    count = len(times)
    if count < 3:
        return 0.0, 0.0, 0.0, count
    span = times[-1] - times[0]
    if span <= 0:
        return 0.0, 0.0, span, count
    t = times - times.sum() / count
    denom = (t * t).sum()
    centre_x = xy[:, 0].sum() / count
    centre_y = xy[:, 1].sum() / count
    velocity_x = (t * (xy[:, 0] - centre_x)).sum() / denom
    velocity_y = (t * (xy[:, 1] - centre_y)).sum() / denom
    squares = 0.0
    for row in range(count):
        dx = xy[row, 0] - centre_x - t[row] * velocity_x
        dy = xy[row, 1] - centre_y - t[row] * velocity_y
        squares += dx * dx + dy * dy
    sigma2 = squares / (2 * max(count - 2, 1))
    return math.hypot(velocity_x, velocity_y), math.sqrt(sigma2 / denom), span, count


@compiled
def robust_fit(
    times: FloatArray,
    xy: FloatArray,
    sizes: FloatArray,
    jump_filter: JumpArgs | None,
    rigid_check: RigidArgs | None,
) -> tuple[float, float, float, int]:
    """:func:`least_squares` over the anchors :func:`kept` keeps, in one compiled call."""
    keep = kept(times, xy, sizes, jump_filter, rigid_check)
    return least_squares(times[keep], xy[keep])


def warm_up() -> None:
    """Compile (or load from the cache) the kernels the rules call, before frames flow.

    The first call of a kernel compiles it (seconds) or loads it from the on-disk cache
    (tenths of a second): done here at start-up, not on a camera's first frames.
    """
    times = np.arange(6, dtype=np.float64)
    xy = np.stack([times, times], axis=1)
    sizes = np.ones(6)
    jumps: JumpArgs = (1.0, 6.0, 3, 4)
    rigid_check: RigidArgs = (0.12, 5)
    robust_fit(times, xy, sizes, jumps, rigid_check)
    robust_fit(times, xy, sizes, jumps, None)
    homography_fit(times, xy, sizes, np.eye(3), jumps, rigid_check)
    least_squares(times, xy)


@compiled
def homography_fit(  # noqa: PLR0917 (a kernel: plain positional arrays and numbers)
    times: FloatArray,
    xy: FloatArray,
    heights: FloatArray,
    matrix: FloatArray,
    jump_filter: JumpArgs | None,
    rigid_check: RigidArgs | None,
) -> tuple[float, float, float, int]:
    """:func:`robust_fit` of image anchors mapped to the road by a plain homography.

    Each anchor is mapped as ``cv2.perspectiveTransform`` maps it, and so are the two points
    half a pixel to its left and right: their distance is the road's metres per pixel at the
    anchor, which turns its box height into an implied vehicle height for ``rigid_check``
    (``kinematics.implied_heights``). One compiled call instead of a transform call, array
    arithmetic and a fit per track.
    """
    count = len(times)
    world = np.empty((count, 2))
    sizes = np.empty(count)
    for row in range(count):
        x, y = xy[row, 0], xy[row, 1]
        world[row, 0], world[row, 1] = _perspective(matrix, x, y)
        left_x, left_y = _perspective(matrix, x - 0.5, y)
        right_x, right_y = _perspective(matrix, x + 0.5, y)
        sizes[row] = heights[row] * math.hypot(right_x - left_x, right_y - left_y)
    return robust_fit(times, world, sizes, jump_filter, rigid_check)


@compiled
def _perspective(matrix: FloatArray, x: float, y: float) -> tuple[float, float]:
    """One point through a 3 × 3 homography, computed as OpenCV's ``perspectiveTransform``."""
    w = x * matrix[2, 0] + y * matrix[2, 1] + matrix[2, 2]
    if abs(w) <= FLT_EPSILON:
        return 0.0, 0.0
    w = 1.0 / w
    return (
        (x * matrix[0, 0] + y * matrix[0, 1] + matrix[0, 2]) * w,
        (x * matrix[1, 0] + y * matrix[1, 1] + matrix[1, 2]) * w,
    )
