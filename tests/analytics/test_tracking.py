"""ByteTrack-style tracker: ids through occlusion, frame skipping, jitter; pruning; class vote."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from edge.detections import NO_TRACK, Detections
from edge.pipeline.analytics import CameraAnalytics
from edge.tracking import (
    ByteTracker,
    TrackerConfig,
    association,
    buffered_iou,
    build_tracker,
    prefilter,
)
from edge.tracking.kalman import BoxKalman, KalmanNoise
from edge.tracking.track import TrackState
from models.metrics import box_iou
from tests.analytics.factories import (
    CAR,
    MOTORCYCLE,
    NAMES,
    PERSON,
    TRUCK,
    Obj,
    detections,
    frame_of,
    scene,
)

FPS = 30.0


def run(tracker, objects, frames, step=1, jitter=0.0, hide=None, seed=0):
    """Feed ``frames`` frames (every ``step``-th); returns the ids per object per fed frame."""
    rng = np.random.default_rng(seed)
    ids: list[list[int]] = [[] for _ in objects]
    for index in range(0, frames, step):
        t = index / FPS
        visible = [i for i in range(len(objects)) if not (hide and hide(i, index))]
        dets = frame_of([objects[i] for i in visible], t, jitter, rng)
        out = tracker.update(dets, t).detections
        assert len(out) == len(dets)
        for row, i in enumerate(visible):
            ids[i].append(int(out.tracker_id[row]))
    return ids


def confirmed_ids(seq):
    return {i for i in seq if i != NO_TRACK}


def test_rows_kept_in_order_and_input_not_modified():
    tracker = ByteTracker(TrackerConfig(min_hits=1), NAMES)
    dets = detections([[0, 0, 10, 10], [100, 100, 120, 130]], scores=[0.9, 0.05])
    out = tracker.update(dets, 0.0).detections
    assert len(out) == 2
    assert np.array_equal(out.xyxy, dets.xyxy)
    assert np.all(dets.tracker_id == NO_TRACK)  # the caller's object is untouched
    assert out.tracker_id[0] != NO_TRACK and out.tracker_id[1] == NO_TRACK  # low score: no track


def test_two_objects_keep_distinct_ids():
    tracker = ByteTracker(TrackerConfig(), NAMES)
    objs = [Obj(50, 100, 300, 0), Obj(600, 300, -250, 0)]
    ids = run(tracker, objs, 60)
    assert ids[0][0] == NO_TRACK  # tentative until min_hits
    a, b = confirmed_ids(ids[0]), confirmed_ids(ids[1])
    assert len(a) == 1 and len(b) == 1 and a != b


@pytest.mark.parametrize("gap_frames", [5, 20, 40])
def test_id_survives_occlusion(gap_frames):
    tracker = ByteTracker(TrackerConfig(max_lost_s=1.5), NAMES)
    objs = [Obj(50, 200, 200, 20)]
    ids = run(tracker, objs, 120, hide=lambda i, k: 30 <= k < 30 + gap_frames)
    assert len(confirmed_ids(ids[0])) == 1


def test_crossing_objects_do_not_swap_after_occlusion():
    # Two cars pass each other on parallel lanes; one is hidden while they overlap.
    tracker = ByteTracker(TrackerConfig(), NAMES)
    objs = [Obj(50, 200, 240, 0), Obj(650, 215, -240, 0)]
    ids = run(tracker, objs, 90, hide=lambda i, k: i == 1 and 35 <= k < 50)
    first_a, last_a = ids[0][5], ids[0][-1]
    first_b, last_b = ids[1][5], ids[1][-1]
    assert first_a == last_a and first_b == last_b and first_a != first_b


@pytest.mark.parametrize(("step", "speed"), [(2, 600), (3, 450), (5, 300)])
def test_frame_skipping_keeps_ids(step, speed):
    # A fast small motorbike moving 40-50 px (twice its width) between fed frames.
    tracker = ByteTracker(TrackerConfig(), NAMES)
    objs = [Obj(30, 240, speed, 60, w=24, h=36, class_id=MOTORCYCLE)]
    ids = run(tracker, objs, 40, step=step)
    assert len(confirmed_ids(ids[0])) == 1
    assert ids[0][-1] != NO_TRACK


def test_camera_jitter_of_three_pixels():
    tracker = ByteTracker(TrackerConfig(), NAMES)
    # Small, slow and close objects: jitter is the largest motion in the scene.
    objs = [Obj(100 + 30 * k, 300, 5, -2, w=16, h=24, class_id=MOTORCYCLE) for k in range(8)]
    ids = run(tracker, objs, 300, jitter=3.0, seed=1)
    for seq in ids:
        assert len(confirmed_ids(seq)) == 1
    assert len({next(iter(confirmed_ids(s))) for s in ids}) == 8


def test_low_score_detections_extend_tracks():
    tracker = ByteTracker(TrackerConfig(), NAMES)
    ids = []
    for k in range(40):
        score = 0.2 if 15 <= k < 30 else 0.9  # partially occluded: the detector is unsure
        out = tracker.update(
            detections([[100 + 3 * k, 100, 140 + 3 * k, 130]], scores=[score]), k / FPS
        ).detections
        ids.append(int(out.tracker_id[0]))
    assert len(confirmed_ids(ids)) == 1
    assert all(i != NO_TRACK for i in ids[15:30])


def test_class_vote_and_groups():
    tracker = ByteTracker(TrackerConfig(), NAMES)
    for k in range(30):
        cls = TRUCK if k % 3 == 0 else CAR
        out = tracker.update(detections([[100 + k, 100, 160 + k, 140]], [cls]), k / FPS).detections
    assert int(out.data["track_class_id"][0]) == CAR
    (track,) = tracker.tracks.values()
    assert track.class_id == CAR


def test_class_groups_keep_a_pedestrian_off_a_motorbike_track():
    groups = [["person"], ["motorcycle"], ["car"]]
    tracker = ByteTracker(TrackerConfig(class_groups=groups), NAMES)
    bike = [200, 200, 230, 250]
    rider = [202, 180, 228, 235]
    for k in range(10):
        dets = (
            detections([bike, rider], [MOTORCYCLE, PERSON])
            if k != 5
            else detections([rider], [PERSON])
        )
        out = tracker.update(dets, k / FPS).detections
    by_class = {int(c): int(t) for c, t in zip(out.class_id, out.tracker_id, strict=True)}
    tracks = tracker.tracks
    assert tracks[by_class[MOTORCYCLE]].class_id == MOTORCYCLE
    assert tracks[by_class[PERSON]].class_id == PERSON


def test_ended_tracks_are_pruned_and_reported():
    tracker = ByteTracker(TrackerConfig(max_lost_s=0.5, history_length=10), NAMES)
    for k in range(40):
        tracker.update(detections([[10 + 2 * k, 10, 50 + 2 * k, 40]]), k / FPS)
    (track,) = tracker.tracks.values()
    assert len(track.history) == 10  # bounded history
    ended = []
    for k in range(40, 70):
        ended += tracker.update(Detections.empty(), k / FPS).ended
    assert ended == [track.track_id]
    assert len(tracker.tracks) == 0


def test_track_table_is_capped():
    tracker = ByteTracker(TrackerConfig(max_tracks=5, min_hits=1), NAMES)
    boxes = [[50 * i, 0, 50 * i + 20, 20] for i in range(12)]
    tracker.update(detections(boxes), 0.0)
    assert len(tracker.tracks) == 5


def test_buffered_iou_lets_small_fast_boxes_overlap():
    a = np.array([[0, 0, 10, 10]], dtype=np.float64)
    b = np.array([[12, 0, 22, 10]], dtype=np.float64)
    assert buffered_iou(a, b, 0.0)[0, 0] == 0.0
    assert buffered_iou(a, b, 0.3)[0, 0] > 0.0


def test_buffered_iou_is_the_iou_of_the_enlarged_boxes():
    """The compiled matrix equals the evaluation's IoU of boxes grown by hand."""
    rng = np.random.default_rng(5)
    corners = rng.uniform(0, 500, size=(2, 9, 2))
    sizes = rng.uniform(1, 80, size=(2, 9, 2))
    a, b = (np.concatenate([c, c + wh], axis=1) for c, wh in zip(corners, sizes, strict=True))
    for buffer in (0.0, 0.3):
        grown = [
            np.concatenate(
                [
                    x[:, :2] - buffer * (x[:, 2:] - x[:, :2]),
                    x[:, 2:] + buffer * (x[:, 2:] - x[:, :2]),
                ],
                axis=1,
            )
            for x in (a, b)
        ]
        np.testing.assert_allclose(buffered_iou(a, b, buffer), box_iou(*grown), rtol=1e-12)
    assert buffered_iou(a[:0], b, 0.3).shape == (0, 9)


def test_config_rejects_inverted_thresholds():
    with pytest.raises(ValidationError, match="low_threshold"):
        TrackerConfig(low_threshold=0.6, high_threshold=0.4)
    with pytest.raises(ValidationError, match="unknown"):
        TrackerConfig.model_validate({"unknown": 1})


def _motorbike_with_bad_box(frame: int) -> tuple[list[float], float]:
    """A motorbike driving down at 3 px/frame: one frame gives only its rider's torso box
    (anchor 30 px too high), then weak detections for ten frames, then strong ones again."""
    y = 300 + 3 * frame
    if frame == 20:
        return [215, y - 60, 245, y - 30], 0.5  # the rider's torso
    if 21 <= frame <= 30:
        return [210, y - 40, 250, y], 0.15  # below high_threshold
    return [210, y - 40, 250, y], 0.6


@pytest.mark.parametrize("recover_radius", [0.0, 1.0])
def test_lost_track_recovered_after_a_bad_box(recover_radius):
    config = TrackerConfig(recover_radius=recover_radius, low_match_iou=0.4)
    tracker = ByteTracker(config, NAMES)
    ids = []
    for frame in range(60):
        box, score = _motorbike_with_bad_box(frame)
        out = tracker.update(detections([box], [MOTORCYCLE], [score]), frame / FPS).detections
        ids.append(int(out.tracker_id[0]))
    kept = confirmed_ids(ids[1:])
    if recover_radius == 0:
        assert len(kept) == 2  # without recovery the road user comes back as a new track
    else:
        assert len(kept) == 1  # with it, one id from start to end
        (track,) = tracker.tracks.values()
        assert track.anchor[1] == pytest.approx(300 + 3 * 59)


def test_recovery_does_not_take_a_far_detection():
    tracker = ByteTracker(TrackerConfig(recover_radius=1.0), NAMES)
    for frame in range(15):  # a car driving right, 40 px high
        x = 100 + 4 * frame
        tracker.update(detections([[x, 200, x + 50, 240]]), frame / FPS)
    (first,) = tracker.tracks
    for frame in range(15, 25):  # gone; another car appears 3 box heights below its path
        x = 100 + 4 * frame
        out = tracker.update(detections([[x, 320, x + 50, 360]]), frame / FPS).detections
    assert first not in set(out.tracker_id.tolist())
    assert int(out.tracker_id[0]) != NO_TRACK  # a new track of its own


def test_expected_anchor_follows_recent_motion():
    from edge.tracking.recovery import expected_anchor

    tracker = ByteTracker(TrackerConfig(min_hits=1), NAMES)
    for frame in range(10):
        x = 100 + 3 * frame
        tracker.update(detections([[x, 100, x + 20, 140]]), frame / FPS)
    (track,) = tracker.tracks.values()
    x, y = expected_anchor(track, 19 / FPS, window_s=1.0)
    assert x == pytest.approx(110 + 3 * 19) and y == pytest.approx(140)


class _FullKalman:
    """The textbook filter with the full 8 × 8 covariance: the reference for BoxKalman's blocks."""

    def __init__(self, box: np.ndarray, noise: KalmanNoise) -> None:
        self.noise = noise
        self.mean = np.concatenate([box, np.zeros(4)])
        h = max(float(box[3]), 1.0)
        pos = 2.0 * noise.measurement * h
        vel = 10.0 * noise.velocity * h / noise.reference_dt
        self.covariance = np.diag(np.square([pos] * 4 + [vel] * 4))

    def predict(self, dt: float) -> np.ndarray:
        if dt <= 0:
            return self.mean[:4].copy()
        transition = np.eye(8)
        transition[np.arange(4), np.arange(4, 8)] = dt
        h = max(float(self.mean[3]), 1.0)
        pos = self.noise.position * h
        vel = self.noise.velocity * h / self.noise.reference_dt
        process = np.diag([pos * pos] * 4 + [vel * vel] * 4) * (dt / self.noise.reference_dt)
        self.mean = transition @ self.mean
        self.mean[2:4] = np.maximum(self.mean[2:4], 1.0)
        self.covariance = transition @ self.covariance @ transition.T + process
        return self.mean[:4].copy()

    def update(self, box: np.ndarray) -> None:
        measure = np.eye(4, 8)
        std = self.noise.measurement * max(float(box[3]), 1.0)
        innovation = measure @ self.covariance @ measure.T + np.eye(4) * std * std
        gain = self.covariance @ measure.T @ np.linalg.inv(innovation)
        self.mean = self.mean + gain @ (box - measure @ self.mean)
        self.covariance = (np.eye(8) - gain @ measure) @ self.covariance


def test_the_block_kalman_filter_equals_the_full_one():
    """Four 2 × 2 covariance blocks give what the textbook 8 × 8 filter gives, all at once."""
    noise = KalmanNoise()
    rng = np.random.default_rng(3)
    boxes = rng.uniform([50, 50, 10, 10], [600, 400, 80, 120], size=(6, 4))
    full = [_FullKalman(box, noise) for box in boxes]
    blocks = [BoxKalman(box, noise) for box in boxes]
    for step in range(6):
        dts = [0.04, 0.0, 0.12, -0.01, 0.04, 1.0]  # no step for the filters at or behind
        expected = np.array([one.predict(dt) for one, dt in zip(full, dts, strict=True)])
        got = BoxKalman.predict_many(blocks, dts)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-9)
        measured = boxes + rng.normal(scale=3.0, size=boxes.shape) + step * 4.0
        for one, box in zip(full, measured, strict=True):
            one.update(box)
        if step % 2:
            BoxKalman.update_many(blocks, measured)
        else:
            for block, box in zip(blocks, measured, strict=True):
                block.update(box)
        for one, other in zip(full, blocks, strict=True):
            np.testing.assert_allclose(other.mean, one.mean, rtol=1e-10, atol=1e-8)
            np.testing.assert_allclose(other.covariance, one.covariance, rtol=1e-9, atol=1e-6)
    assert BoxKalman.predict_many([], []).shape == (0, 4)
    BoxKalman.update_many([], np.empty((0, 4)))  # nothing to correct


def test_rider_and_passenger_merge_into_their_motorbike():
    """Driver and passenger (two person boxes) and their bike: one motorcycle box over all."""
    names = ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
    dets = Detections(
        np.array([[100, 140, 130, 190], [102, 110, 126, 170], [106, 100, 130, 160]], np.float32),
        np.array([0.5, 0.8, 0.6], np.float32),
        np.array([3, 0, 0]),
    )
    merged = prefilter.merge_riders(dets, names)
    assert merged.class_id.tolist() == [3]
    np.testing.assert_array_equal(merged.xyxy[0], [100, 100, 130, 190])
    assert merged.confidence[0] == pytest.approx(0.8)


def test_rider_merge_on_crowded_random_frames_only_drops_rows_and_grows_boxes():
    names = ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
    rng = np.random.default_rng(11)
    merged_any = 0
    for _ in range(300):
        count = int(rng.integers(2, 30))
        corner = rng.uniform(0, 200, size=(count, 2))
        size = rng.uniform(8, 60, size=(count, 2))
        boxes = np.concatenate([corner, corner + size], axis=1).astype(np.float32)
        class_ids = rng.choice([0, 0, 1, 2, 3, 3, 5], size=count)
        dets = Detections(boxes, rng.uniform(0.3, 1, count).astype(np.float32), class_ids)
        got = prefilter.merge_riders(dets, names)
        merged_any += len(dets) - len(got)
        for box, class_id in zip(got.xyxy, got.class_id, strict=True):
            # each row left is an input row of its class, its box grown (a union) or unchanged
            same = boxes[class_ids == class_id]
            inside = (same[:, :2] >= box[:2]).all(axis=1) & (same[:, 2:] <= box[2:]).all(axis=1)
            assert inside.any()
    assert merged_any > 100  # riders and twins were merged


def test_tracker_type_picks_the_tracker_and_refuses_unknown_names():
    assert isinstance(build_tracker(TrackerConfig(type="bytetrack"), NAMES), ByteTracker)
    with pytest.raises(ValidationError, match="type"):
        TrackerConfig.model_validate({"type": "norfair"})


def test_reset_tracks_are_reported_ended_by_the_next_update():
    tracker = ByteTracker(TrackerConfig(), NAMES)
    for k in range(5):
        tracker.update(detections([[10 + k, 10, 50 + k, 40]]), k / FPS)
    live = list(tracker.tracks)
    tracker.reset()
    assert tracker.update(Detections.empty(), 5 / FPS).ended == tuple(live)
    assert tracker.update(Detections.empty(), 6 / FPS).ended == ()


@pytest.mark.parametrize(
    ("allowed", "min_iou", "pairs"),
    [
        ([[True, True], [True, True]], 0.1, [(7, 1), (8, 0)]),  # best total IoU
        ([[True, False], [True, True]], 0.1, [(7, 0), (8, 1)]),  # the gate refuses 7-1
        ([[True, True], [True, True]], 0.85, [(7, 1)]),  # 8-0 overlaps too little
    ],
)
def test_assign_takes_the_best_allowed_pairs(allowed, min_iou, pairs):
    iou = np.array([[0.3, 0.9], [0.8, 0.2]])
    match = association.assign([7, 8], [0, 1], iou, min_iou, np.array(allowed))
    assert sorted(zip(match.track_ids, match.rows, strict=True)) == pairs
    assert set(match.unmatched_tracks) == {7, 8} - {t for t, _ in pairs}
    assert set(match.unmatched_rows) == {0, 1} - {r for _, r in pairs}


def test_class_groups_and_sizes_gate_association():
    config = TrackerConfig()
    sizes = np.array([[20.0, 40.0]])  # a narrow, upright two-wheeler box
    gate = association.compatibility(
        np.array([0]),
        sizes,
        np.array([0, 0, 1, 1]),
        np.array([[22.0, 42.0], [60.0, 120.0], [21.0, 38.0], [80.0, 40.0]]),
        config,
    )
    # same group and size; same group, 3x the size; other group, same shape; other group, wide
    assert gate.tolist() == [[True, False, True, False]]


def test_rules_see_the_tracks_that_ended_on_their_frame():
    analytics = CameraAnalytics(scene(tracker={"max_lost_s": 0.2}), NAMES)
    for k in range(10):
        analytics.process(
            detections([[100 + 2 * k, 100, 140 + 2 * k, 130]]), index=k, timestamp=k / FPS
        )
    (track_id,) = analytics.tracker.tracks
    ended = []
    for k in range(10, 30):
        analytics.process(Detections.empty(), index=k, timestamp=k / FPS)
        assert analytics._last is not None
        ended += analytics._last.ended
        assert not set(analytics._last.ended) & set(analytics._last.tracks)
    assert ended == [track_id]


def test_a_lost_track_cannot_push_a_tracked_one_off_its_box():
    # Seen on the intersection clip at 10 fps: two cars queued at the frame's edge, and the
    # prediction of a track lost a while ago drifting onto the near car. Matched together by
    # total IoU, the lost track took the near car's box and pushed its track onto the car in
    # front (IoU 0.3), so the near car's crossing on red was never seen. Tracks matched in the
    # last update now take the boxes first; lost tracks get what is left (DeepSORT's cascade).
    config = TrackerConfig()
    near, ahead = [560.0, 190.0, 640.0, 256.0], [575.0, 144.0, 640.0, 211.0]
    predicted = association.Predicted(
        boxes=np.array([[566.0, 170.0, 640.0, 236.0], [560.0, 188.0, 640.0, 255.0]]),
        row_of={27: 0, 19: 1},
    )
    rnd = association.Round(
        predicted=predicted,
        boxes=np.array([near, ahead]),
        gate=lambda tracks, rows: np.ones((len(tracks), len(rows)), dtype=bool),
        states={27: TrackState.CONFIRMED, 19: TrackState.LOST},
    )
    first = association.first_pass(rnd, [0, 1], config)
    assert list(zip(first.track_ids, first.rows, strict=True)) == [(27, 0)]
    rescue = association.rescue_lost(rnd, first, config)
    merged = association.merge_rescue(first, rescue)
    assert dict(zip(merged.track_ids, merged.rows, strict=True))[27] == 0
    every = set(merged.track_ids) | set(merged.unmatched_tracks)
    assert every == {19, 27}  # an unmatched lost track is still aged by the update
