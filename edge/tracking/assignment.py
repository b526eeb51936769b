"""Optimal one-to-one assignment (the Hungarian step of tracking).

SciPy's ``linear_sum_assignment``; where SciPy is not installed (an offline GPU server where
its 35 MB wheel does not fit), the same optimum from ``lap``'s Jonker-Volgenant solver, which
Ultralytics' tracker uses too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
    _, column_of_row, _ = lap.lapjv(np.asarray(cost, dtype=np.float64), extend_cost=True)
    rows = np.flatnonzero(column_of_row >= 0)
    return rows.astype(np.int64), column_of_row[rows].astype(np.int64)
