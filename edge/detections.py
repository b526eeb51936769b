"""The per-frame result type: one dataclass of parallel numpy arrays.

Every stage after the detector (tracker, zones, rules) takes and returns
:class:`Detections`; selections are boolean masks aligned to its rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
Index = int | slice | npt.NDArray[np.bool_] | npt.NDArray[np.integer[Any]] | list[int]

NO_TRACK = -1
"""``tracker_id`` of a detection that no tracker has assigned."""


def of_classes(
    class_ids: IntArray, class_names: Sequence[str], wanted: Collection[str]
) -> npt.NDArray[np.bool_]:
    """Which rows are of one of the ``wanted`` classes (``np.isin`` on names, by table).

    A class id beyond ``class_names`` is named ``class_<id>``, as rules name it.
    """
    size = max(int(class_ids.max()) + 1 if len(class_ids) else 0, len(class_names))
    table = _class_table(tuple(class_names), frozenset(wanted), size)
    member: npt.NDArray[np.bool_] = table[class_ids]
    return member


@lru_cache(maxsize=256)
def _class_table(
    class_names: tuple[str, ...], wanted: frozenset[str], size: int
) -> npt.NDArray[np.bool_]:
    """``[class id]``: whether the class is wanted, ids below ``size`` (read-only, made once)."""
    names = [class_names[i] if i < len(class_names) else f"class_{i}" for i in range(size)]
    table = np.array([name in wanted for name in names], dtype=bool)
    table.flags.writeable = False
    return table


@dataclass(frozen=True)
class Detections:
    """Detections of one frame as parallel arrays, one row per object.

    Attributes:
        xyxy: Boxes ``[x1, y1, x2, y2]`` in native-frame pixels, shape ``(N, 4)``, float32.
        confidence: Scores in ``[0, 1]``, shape ``(N,)``, float32.
        class_id: Class index into the model's names, shape ``(N,)``, int64.
        tracker_id: Track ids, shape ``(N,)``, int64; ``NO_TRACK`` (-1) before tracking.
        data: Extra per-row arrays (each with first dimension ``N``), e.g. ``class_name``.
    """

    xyxy: FloatArray
    confidence: FloatArray
    class_id: IntArray
    tracker_id: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    data: Mapping[str, np.ndarray[Any, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        n = len(xyxy)
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(
            self, "confidence", _column(self.confidence, n, np.float32, "confidence")
        )
        object.__setattr__(self, "class_id", _column(self.class_id, n, np.int64, "class_id"))
        tracker_id = self.tracker_id
        if len(tracker_id) == 0 and n > 0:
            tracker_id = np.full(n, NO_TRACK, dtype=np.int64)
        object.__setattr__(self, "tracker_id", _column(tracker_id, n, np.int64, "tracker_id"))
        for key, value in self.data.items():
            if len(value) != n:
                raise ValueError(f"data[{key!r}] has {len(value)} rows, expected {n}")

    @classmethod
    def empty(cls) -> Detections:
        """Return detections with no rows."""
        return cls(
            xyxy=np.empty((0, 4), dtype=np.float32),
            confidence=np.empty(0, dtype=np.float32),
            class_id=np.empty(0, dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __iter__(self) -> Iterator[int]:
        """Iterate over row indices (use ``self[i]`` or the arrays for values)."""
        return iter(range(len(self)))

    def __getitem__(self, index: Index) -> Detections:
        """Select rows by boolean mask, integer array, list, slice or single integer.

        Every field, ``data`` included, is indexed alike; the result is a new object.
        """
        if isinstance(index, int):
            index = [index]
        if isinstance(index, np.ndarray) and index.dtype == np.bool_ and len(index) != len(self):
            raise IndexError(f"boolean mask has {len(index)} rows, detections have {len(self)}")
        return Detections(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            tracker_id=self.tracker_id[index],
            data={key: value[index] for key, value in self.data.items()},
        )

    def with_tracker_ids(self, tracker_id: IntArray) -> Detections:
        """Return a copy with ``tracker_id`` replaced (same rows, same order)."""
        return Detections(self.xyxy, self.confidence, self.class_id, tracker_id, dict(self.data))

    def with_data(self, **columns: np.ndarray[Any, Any]) -> Detections:
        """Return a copy with extra per-row columns added to ``data``."""
        merged = {**self.data, **columns}
        return Detections(self.xyxy, self.confidence, self.class_id, self.tracker_id, merged)

    def shifted(self, dx: float, dy: float) -> Detections:
        """Return a copy with boxes moved by ``(dx, dy)`` pixels (ROI crop to native frame)."""
        if dx == 0 and dy == 0:
            return self
        offset = np.array([dx, dy, dx, dy], dtype=np.float32)
        return Detections(
            self.xyxy + offset, self.confidence, self.class_id, self.tracker_id, dict(self.data)
        )

    @property
    def area(self) -> FloatArray:
        """Box areas in pixels², shape ``(N,)``."""
        wh = self.xyxy[:, 2:] - self.xyxy[:, :2]
        return (wh[:, 0] * wh[:, 1]).astype(np.float32)

    @property
    def bottom_center(self) -> FloatArray:
        """Anchor points ``(x, y)`` at the bottom centre of each box (where it meets the road)."""
        x = (self.xyxy[:, 0] + self.xyxy[:, 2]) / 2
        return np.stack([x, self.xyxy[:, 3]], axis=1).astype(np.float32)

    @property
    def center(self) -> FloatArray:
        """Box centres ``(x, y)``, shape ``(N, 2)``."""
        return ((self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2).astype(np.float32)

    @classmethod
    def merge(cls, parts: list[Detections]) -> Detections:
        """Concatenate several detections (``data`` keys must match)."""
        if not parts:
            return cls.empty()
        keys = set(parts[0].data)
        if any(set(part.data) != keys for part in parts):
            raise ValueError("cannot merge detections whose data columns differ")
        return cls(
            xyxy=np.concatenate([p.xyxy for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            class_id=np.concatenate([p.class_id for p in parts]),
            tracker_id=np.concatenate([p.tracker_id for p in parts]),
            data={k: np.concatenate([p.data[k] for p in parts]) for k in keys},
        )


def _column(values: Any, n: int, dtype: type[np.generic], name: str) -> Any:
    array = np.asarray(values, dtype=dtype).reshape(-1)
    if len(array) != n:
        raise ValueError(f"{name} has {len(array)} rows, expected {n} (one per box)")
    return array
