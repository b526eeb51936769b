"""Optimal one-to-one assignment (the Hungarian step of tracking).

SciPy's ``linear_sum_assignment``; where SciPy is not installed (an offline GPU server where
its 35 MB wheel does not fit), the same optimum from ``lap``'s Jonker-Volgenant solver, which
Ultralytics' tracker uses too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FORBIDDEN = 1e4
"""Cost of a pair that must never match. Far above any real cost (at most 1) times any
number of pairs, so an optimum always makes as many real pairs as it can; and well below
``lap``'s internal infinity (1e6, its ``LARGE``): at 1e6 lapjv mistook such entries for
missing edges and returned assignments that were not optimal (a track left unmatched beside
its only box)."""

try:
    from scipy.optimize import linear_sum_assignment as _scipy_assignment
except ImportError:  # pragma: no cover - exercised in a subprocess by the tests
    _scipy_assignment = None


def linear_sum_assignment(cost: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], ...]:
    """Rows and columns of the minimum-cost assignment of a rectangular cost matrix.

    Returns:
        ``(rows, columns)``, rows ascending, as ``scipy.optimize.linear_sum_assignment``.
    """
    if _scipy_assignment is not None:
        return tuple(_scipy_assignment(cost))
    import lap

    if cost.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    bounded = np.minimum(np.asarray(cost, dtype=np.float64), FORBIDDEN)
    _, column_of_row, _ = lap.lapjv(bounded, extend_cost=True)
    rows = np.flatnonzero(column_of_row >= 0)
    return rows.astype(np.int64), column_of_row[rows].astype(np.int64)
