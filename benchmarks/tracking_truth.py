"""Candidate track truth for the tracking-metrics gate, review sheets, and the truth itself.

Nobody labels hundreds of frames of boxes by hand here, so the truth is made in three steps,
each reproducible (``tests/analytics/truth/tracks/README.md`` says what was checked by eye):

1. ``candidates``: a stronger offline setting than any camera runs (the COCO model at 1280,
   a conservative tracker that needs three hits, then short tracks dropped and gaps filled
   by linear interpolation) gives candidate tracks for a window of frames of a shared clip.
2. ``sheets``: frames with ids drawn and, per track, a strip of crops along its life, as
   PNGs to look at: an id that changes road user, a road user with two ids, a missed one.
3. ``truth``: the candidates with the corrections found by eye (``<clip>.corrections.json``:
   ids merged, ids dropped, frames cut) applied, written as the truth CSV.

Run::

    python -m benchmarks.tracking_truth candidates --clip overpass
    python -m benchmarks.tracking_truth sheets --clip overpass --out /tmp/sheets
    python -m benchmarks.tracking_truth truth --clip overpass
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.analytics_counting import CLIPS
from edge.detections import NO_TRACK, Detections
from edge.detector import Detector
from edge.scene import load_scene
from edge.tracking import ByteTracker, TrackerConfig
from edge.tracking.prefilter import one_box_per_road_user
from traffic_monitor.shared_data import REPO_ROOT, shared_path

logger = logging.getLogger(__name__)

TRUTH_DIR = REPO_ROOT / "tests" / "analytics" / "truth" / "tracks"


@dataclass(frozen=True)
class Window:
    """The frames of one clip the track truth covers.

    Attributes:
        clip: Key of :data:`benchmarks.analytics_counting.CLIPS`.
        first: First frame index.
        count: Number of consecutive frames.
        min_bottom: The scored region: boxes whose bottom edge lies at or below this image
            row (pixels). Above it (the far field of the overpass, the car park of the
            intersection) road users are too small or too hidden for the truth to be
            complete; truth and tracker boxes there are left out of the scores alike.
    """

    clip: str
    first: int
    count: int
    min_bottom: float = 0.0

    @property
    def frames(self) -> range:
        """The frame indices."""
        return range(self.first, self.first + self.count)

    def scored(self, boxes: Sequence[TruthBox]) -> list[TruthBox]:
        """The boxes inside the scored region (bottom edge at or below ``min_bottom``)."""
        return [b for b in boxes if b.box[3] >= self.min_bottom]


WINDOWS = {
    "overpass": Window("overpass", 0, 150, min_bottom=240.0),
    "intersection": Window("intersection", 0, 150, min_bottom=80.0),
}
"""The labelled windows (5 s of each clip at 30 fps)."""

CANDIDATE_IMGSZ = 1280
CANDIDATE_CONFIDENCE = 0.25
CANDIDATE_TRACKER = TrackerConfig(
    high_threshold=0.4,
    new_track_threshold=0.45,
    min_hits=1,
    line_margin=0.0,
    max_lost_s=1.0,
)
"""Strict thresholds, no weak starts near lines; an id from the first hit (short tracks are
dropped afterwards, so a road user's first frames are in the truth)."""
MIN_TRACK_FRAMES = 8
"""Candidate tracks detected in fewer frames are dropped (flicker, not road users)."""
MAX_GAP_FRAMES = 30
"""Gaps up to this many frames inside a track are filled by linear interpolation."""
ROAD_USERS = ["person", "bicycle", "car", "motorcycle", "bus", "truck"]


@dataclass(frozen=True)
class TruthBox:
    """One road user in one frame.

    Attributes:
        frame: Frame index in the clip.
        track_id: Identity (one per road user over the window).
        box: ``(x1, y1, x2, y2)`` pixels.
        object_class: Class name (informative: the metrics are class-agnostic).
        interpolated: Whether the box was filled in between detections.
    """

    frame: int
    track_id: int
    box: tuple[float, float, float, float]
    object_class: str
    interpolated: bool = False


def read_frames(video: Path, frames: range) -> Iterator[tuple[int, np.ndarray[Any, Any]]]:
    """Decode the frames ``frames`` (consecutive) of a video, BGR."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, frames.start)
        for index in frames:
            ok, image = capture.read()
            if not ok:
                return
            yield index, image
    finally:
        capture.release()


def video_path(clip: str) -> Path:
    """The shared video of a clip."""
    return shared_path(*CLIPS[clip].video)


def candidate_tracks(window: Window) -> list[TruthBox]:
    """Candidate truth: detector at 1280, cautious tracker, short tracks dropped, gaps filled."""
    scene = load_scene(CLIPS[window.clip].config)
    config = scene.detector.model_copy(
        update={
            "imgsz": CANDIDATE_IMGSZ,
            "confidence": CANDIDATE_CONFIDENCE,
            "classes": ROAD_USERS,
            "runtime": "openvino",
            "openvino_precision": "bf16",
        }
    )
    detector = Detector(config)
    tracker = ByteTracker(CANDIDATE_TRACKER, detector.names)
    fps = 30.0
    boxes: list[TruthBox] = []
    for index, image in read_frames(video_path(window.clip), window.frames):
        found = one_box_per_road_user(detector.detect_one(image), CANDIDATE_TRACKER, detector.names)
        tracked = tracker.update(found, index / fps).detections
        boxes.extend(_confirmed_boxes(tracked, index, detector.names))
        if index % 25 == 0:
            logger.info("frame %s: %s tracked", index, len(boxes))
    return interpolate(drop_short(boxes, MIN_TRACK_FRAMES), MAX_GAP_FRAMES)


def _confirmed_boxes(tracked: Detections, index: int, names: Sequence[str]) -> list[TruthBox]:
    voted = tracked.data["track_class_id"]
    return [
        TruthBox(
            frame=index,
            track_id=int(tracked.tracker_id[row]),
            box=_rounded(tracked.xyxy[row]),
            object_class=names[int(voted[row])],
        )
        for row in range(len(tracked))
        if tracked.tracker_id[row] != NO_TRACK
    ]


def _rounded(box: Sequence[float] | np.ndarray[Any, Any]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (round(float(v), 1) for v in box)
    return x1, y1, x2, y2


def by_track(boxes: Sequence[TruthBox]) -> dict[int, list[TruthBox]]:
    """Boxes grouped by identity, each group in frame order."""
    groups: dict[int, list[TruthBox]] = defaultdict(list)
    for box in sorted(boxes, key=lambda b: (b.track_id, b.frame)):
        groups[box.track_id].append(box)
    return dict(groups)


def drop_short(boxes: Sequence[TruthBox], min_frames: int) -> list[TruthBox]:
    """Only the boxes of tracks seen in at least ``min_frames`` frames."""
    return [b for group in by_track(boxes).values() if len(group) >= min_frames for b in group]


def interpolate(boxes: Sequence[TruthBox], max_gap: int) -> list[TruthBox]:
    """Boxes with each track's gaps of up to ``max_gap`` frames filled linearly."""
    filled: list[TruthBox] = []
    for group in by_track(boxes).values():
        for before, after in itertools.pairwise(group):
            filled.append(before)
            gap = after.frame - before.frame
            if 1 < gap <= max_gap:
                filled.extend(_between(before, after))
        filled.append(group[-1])
    return sorted(filled, key=lambda b: (b.frame, b.track_id))


def _between(before: TruthBox, after: TruthBox) -> list[TruthBox]:
    start, end = np.array(before.box), np.array(after.box)
    gap = after.frame - before.frame
    return [
        TruthBox(
            frame=before.frame + step,
            track_id=before.track_id,
            box=_rounded(start + (end - start) * step / gap),
            object_class=before.object_class,
            interpolated=True,
        )
        for step in range(1, gap)
    ]


HEADER = ["frame", "track_id", "x1", "y1", "x2", "y2", "class", "interpolated"]


def write_boxes(path: Path, boxes: Sequence[TruthBox], comment: str) -> None:
    """Write boxes as CSV with ``#`` comment lines first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        for line in comment.splitlines():
            handle.write(f"# {line}\n")
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for b in sorted(boxes, key=lambda b: (b.frame, b.track_id)):
            writer.writerow([b.frame, b.track_id, *b.box, b.object_class, int(b.interpolated)])


def read_boxes(path: Path) -> list[TruthBox]:
    """Boxes from a CSV written by :func:`write_boxes`."""
    with path.open() as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return [
            TruthBox(
                frame=int(row["frame"]),
                track_id=int(row["track_id"]),
                box=(float(row["x1"]), float(row["y1"]), float(row["x2"]), float(row["y2"])),
                object_class=row["class"],
                interpolated=row["interpolated"] == "1",
            )
            for row in rows
        ]


def candidates_path(clip: str) -> Path:
    """Where the candidate tracks of a clip are kept (next to the truth, for review)."""
    return TRUTH_DIR / f"{clip}.candidates.csv"


def truth_path(clip: str) -> Path:
    """The track truth CSV of a clip."""
    return TRUTH_DIR / f"{clip}.csv"


def corrections_path(clip: str) -> Path:
    """The corrections found by eye for a clip's candidates."""
    return TRUTH_DIR / f"{clip}.corrections.json"


SPLIT_OFFSET = 1000
"""A track split at a frame goes on from there as id ``id + SPLIT_OFFSET``."""


@dataclass(frozen=True)
class Corrections:
    """What was found wrong in a clip's candidates by eye (``<clip>.corrections.json``).

    Attributes:
        drop: Ids that are no road user.
        merge: ``{kept id: [ids of the same road user]}``.
        keep: ``{id: (first, last)}``: only these frames of the track are right.
        drop_frames: ``{id: (first, last)}``: these frames of the track are wrong.
        split: ``{id: frame}``: from this frame on the track is another road user.
        hold: ``{id: frame}``: a standing road user the detector lost; its last box is
            kept up to this frame.
    """

    drop: frozenset[int] = frozenset()
    merge: dict[int, int] | None = None
    keep: dict[int, tuple[int, int]] | None = None
    drop_frames: dict[int, tuple[int, int]] | None = None
    split: dict[int, int] | None = None
    hold: dict[int, int] | None = None

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Corrections:
        """From the JSON object (ids as strings, ranges as two-element lists)."""

        def ranges(key: str) -> dict[int, tuple[int, int]]:
            return {int(k): (int(v[0]), int(v[1])) for k, v in raw.get(key, {}).items()}

        merge = {int(o): int(k) for k, others in raw.get("merge", {}).items() for o in others}
        return cls(
            drop=frozenset(int(t) for t in raw.get("drop", [])),
            merge=merge,
            keep=ranges("keep"),
            drop_frames=ranges("drop_frames"),
            split={int(k): int(v) for k, v in raw.get("split", {}).items()},
            hold={int(k): int(v) for k, v in raw.get("hold", {}).items()},
        )

    def fix(self, box: TruthBox) -> TruthBox | None:
        """The corrected box (new id where merged or split), or None where it is wrong."""
        first, last = (self.keep or {}).get(box.track_id, (-1, 1 << 30))
        gone = (self.drop_frames or {}).get(box.track_id, (0, -1))
        if box.track_id in self.drop or not first <= box.frame <= last:
            return None
        if gone[0] <= box.frame <= gone[1]:
            return None
        track_id = (self.merge or {}).get(box.track_id, box.track_id)
        if box.frame >= (self.split or {}).get(box.track_id, 1 << 30):
            track_id += SPLIT_OFFSET
        return TruthBox(box.frame, track_id, box.box, box.object_class)


def apply_corrections(boxes: Sequence[TruthBox], corrections: Corrections) -> list[TruthBox]:
    """The candidates' detected boxes, corrected, with gaps filled again by interpolation.

    Interpolated candidate boxes are left out first: a gap may have joined two road users.
    """
    fixed = [corrections.fix(b) for b in boxes if not b.interpolated]
    filled = interpolate([b for b in fixed if b is not None], MAX_GAP_FRAMES)
    return filled + _held(filled, corrections.hold or {})


def _held(boxes: Sequence[TruthBox], hold: dict[int, int]) -> list[TruthBox]:
    """The last box of each held track repeated up to its hold frame (marked filled in)."""
    tracks = by_track(boxes)
    return [
        TruthBox(frame, track_id, tracks[track_id][-1].box, tracks[track_id][-1].object_class, True)
        for track_id, until in hold.items()
        for frame in range(tracks[track_id][-1].frame + 1, until + 1)
    ]


def _candidates(clip: str) -> None:
    window = WINDOWS[clip]
    boxes = candidate_tracks(window)
    comment = (
        f"Candidate tracks, {clip} frames {window.first}-{window.first + window.count - 1}: "
        f"COCO yolov8n at {CANDIDATE_IMGSZ} (OpenVINO bf16), confidence {CANDIDATE_CONFIDENCE}, "
        f"strict ByteTracker (min_hits 1), tracks under {MIN_TRACK_FRAMES} frames dropped, gaps "
        f"up to {MAX_GAP_FRAMES} frames interpolated. Made by: python -m benchmarks.tracking_truth "
        f"candidates --clip {clip}"
    )
    write_boxes(candidates_path(clip), boxes, comment)
    logger.info("%s: %s boxes, %s tracks", clip, len(boxes), len(by_track(boxes)))


def _truth(clip: str) -> None:
    corrections = Corrections.parse(json.loads(corrections_path(clip).read_text()))
    boxes = apply_corrections(read_boxes(candidates_path(clip)), corrections)
    window = WINDOWS[clip]
    comment = (
        f"Track truth, {clip} ({CLIPS[clip].video[-1]}) frames {window.first}-"
        f"{window.first + window.count - 1}: {clip}.candidates.csv with {clip}.corrections.json "
        f"applied (python -m benchmarks.tracking_truth truth --clip {clip}). How it was made "
        "and what was checked by eye: README.md in this folder."
    )
    write_boxes(truth_path(clip), boxes, comment)
    logger.info("%s truth: %s boxes, %s tracks", clip, len(boxes), len(by_track(boxes)))


def main(argv: list[str] | None = None) -> int:
    """Command line: ``candidates``, ``sheets`` or ``truth`` for one clip."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["candidates", "sheets", "truth"])
    parser.add_argument("--clip", choices=sorted(WINDOWS), required=True)
    parser.add_argument("--out", type=Path, default=Path("tracking_sheets"))
    parser.add_argument("--source", choices=["candidates", "truth"], default="candidates")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.step == "candidates":
        _candidates(args.clip)
    elif args.step == "truth":
        _truth(args.clip)
    else:
        from benchmarks.tracking_sheets import write_sheets

        path = candidates_path(args.clip) if args.source == "candidates" else truth_path(args.clip)
        write_sheets(WINDOWS[args.clip], read_boxes(path), args.out / args.clip)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
