"""Stream ingest on real videos and a real (loopback) MJPEG camera that goes away."""

from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path

import pytest

from edge.ingest import (
    CaptureWorker,
    Frame,
    FrameRateLimiter,
    SourceConfig,
    SourceError,
    StatusChange,
)
from tests.edge.mjpeg_server import MjpegCamera, load_jpegs
from traffic_monitor.net import free_port


def drain(worker: CaptureWorker, delay: float = 0.0, limit: float = 120.0) -> list[Frame]:
    frames: list[Frame] = []
    deadline = time.monotonic() + limit
    while not worker.finished and time.monotonic() < deadline:
        frame = worker.get(timeout=0.5)
        if frame is not None:
            frames.append(frame)
            if delay:
                time.sleep(delay)
    return frames


def run_file(config: SourceConfig, delay: float = 0.0) -> tuple[CaptureWorker, list[Frame]]:
    worker = CaptureWorker(config)
    worker.start()
    try:
        frames = drain(worker, delay)
    finally:
        worker.stop()
    return worker, frames


def test_file_is_read_whole_with_media_timestamps(overpass_video: Path) -> None:
    worker, frames = run_file(SourceConfig(uri=str(overpass_video), camera_id="overpass"))
    assert worker.error is None
    assert len(frames) == 608
    assert worker.stats.frames_dropped == 0
    assert frames[0].image.shape == (480, 854, 3)
    assert frames[0].camera_id == "overpass"
    assert [f.index for f in frames] == list(range(608))
    assert frames[30].timestamp == pytest.approx(1.0, abs=1e-3)
    assert frames[-1].timestamp == pytest.approx(607 / 30, abs=1e-3)


def test_file_frames_show_media_time_whatever_the_processing_speed(overpass_video: Path) -> None:
    """A file's frames are stamped start + media time, not the time they were decoded at: a
    slow consumer (here 5 ms per frame, slower than the video's 33 ms only in sum) does not
    stretch the events' clock."""
    config = SourceConfig(uri=str(overpass_video), camera_id="overpass")
    worker = CaptureWorker(config)
    worker.start()
    frames = []
    try:
        while len(frames) < 60:
            frame = worker.get(timeout=10)
            assert frame is not None
            frames.append(frame)
            time.sleep(0.005)
    finally:
        worker.stop()
    epochs = {round(f.wall_time - f.timestamp, 6) for f in frames}
    assert len(epochs) == 1, f"frame times drift from media time: {sorted(epochs)[:3]}…"
    assert abs(epochs.pop() - time.time()) < 600  # the epoch is when the file started


def test_a_crashed_capture_is_replaced_where_it_stopped(
    overpass_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = CaptureWorker._deliver
    crashed = []

    def deliver(self: CaptureWorker, image: object, timestamp: float) -> None:
        if self._index == 100 and not crashed:
            crashed.append(True)
            raise RuntimeError("decoder bug")
        original(self, image, timestamp)  # type: ignore[arg-type]

    monkeypatch.setattr(CaptureWorker, "_deliver", deliver)
    first, before = run_file(SourceConfig(uri=str(overpass_video), camera_id="overpass"))
    assert first.crashed and "decoder bug" in str(first.error)
    second = first.restarted()
    second.start()
    try:
        after = drain(second)
    finally:
        second.stop()
    assert second.error is None and not second.crashed
    assert [f.index for f in before + after] == [i for i in range(608) if i != 100]
    assert after[0].timestamp == pytest.approx(101 / 30, abs=1e-3)  # same media clock
    epochs = {round(f.wall_time - f.timestamp, 6) for f in before + after}
    assert len(epochs) == 1


def test_frame_rate_limit_and_roi(intersection_video: Path) -> None:
    config = SourceConfig(uri=str(intersection_video), max_fps=10, roi=(100, 50, 320, 240))
    worker, frames = run_file(config)
    assert 300 <= len(frames) <= 305  # 30.3 s at 10 fps
    assert worker.stats.frames_skipped + len(frames) == 909
    gaps = {round(b.timestamp - a.timestamp, 3) for a, b in pairwise(frames)}
    assert gaps == {0.1}
    assert frames[0].image.shape == (240, 320, 3)
    assert frames[0].offset == (100, 50)
    assert frames[0].native_size == (640, 480)


def test_slow_consumer_drops_oldest_and_counts(intersection_video: Path) -> None:
    config = SourceConfig(uri=str(intersection_video), queue_policy="drop_oldest", queue_size=2)
    worker, frames = run_file(config, delay=0.02)
    assert worker.stats.frames_dropped > 0
    assert len(frames) + worker.stats.frames_dropped == worker.stats.frames_read == 909
    assert [f.index for f in frames] == sorted(f.index for f in frames)


def test_offline_file_blocks_instead_of_dropping(intersection_video: Path) -> None:
    config = SourceConfig(uri=str(intersection_video), max_fps=5)
    worker, frames = run_file(config, delay=0.005)
    assert worker.stats.frames_dropped == 0
    assert len(frames) == worker.stats.frames_read


def test_realtime_pacing(intersection_video: Path) -> None:
    config = SourceConfig(uri=str(intersection_video), realtime=True)
    worker = CaptureWorker(config)
    worker.start()
    started = time.monotonic()
    frames = []
    while len(frames) < 31:
        frame = worker.get(timeout=2)
        assert frame is not None
        frames.append(frame)
    worker.stop()
    assert time.monotonic() - started >= 0.95  # 30 frame periods at 30 fps


def test_missing_file() -> None:
    worker, _ = run_file(SourceConfig(uri="/nonexistent/clip.mp4"))
    assert isinstance(worker.error, SourceError)
    assert "does not exist" in str(worker.error)


def test_corrupt_file_ends_with_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "camera.mp4"
    bogus.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 400)
    worker, frames = run_file(SourceConfig(uri=str(bogus)))
    assert frames == []
    assert isinstance(worker.error, SourceError)
    assert "cannot open file" in str(worker.error) or "no decodable" in str(worker.error)


def test_truncated_file_is_reported(overpass_video: Path, tmp_path: Path) -> None:
    data = overpass_video.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 3])
    worker, frames = run_file(SourceConfig(uri=str(truncated)))
    assert isinstance(worker.error, SourceError)
    message = str(worker.error)
    assert "truncated" in message or "cannot open" in message
    assert len(frames) < 608


def test_unreachable_stream_gives_up_after_attempts() -> None:
    url = f"http://127.0.0.1:{free_port()}/none.mjpg"
    config = SourceConfig(uri=url, stall_timeout_s=1, reconnect_initial_s=0.05, max_open_attempts=2)
    worker, frames = run_file(config)
    assert frames == []
    assert isinstance(worker.error, SourceError)
    assert "cannot open stream" in str(worker.error)


@pytest.mark.slow
def test_live_stream_reconnects_after_outage_and_reports_it(intersection_video: Path) -> None:
    camera = MjpegCamera(load_jpegs(intersection_video, 25), free_port(), fps=25)
    camera.start()
    changes: list[StatusChange] = []
    config = SourceConfig(
        uri=camera.url, stall_timeout_s=2, reconnect_initial_s=0.2, reconnect_max_s=0.5
    )
    worker = CaptureWorker(config, on_status=changes.append)
    worker.start()
    try:
        before = collect_for(worker, 1.5)
        camera.stop()
        time.sleep(1.5)
        assert not worker.online
        camera.start()
        after = collect_for(worker, 3.0)
    finally:
        worker.stop()
        camera.stop()
    assert before and after, "frames before and after the outage"
    assert worker.stats.reconnects >= 1
    states = [change.online for change in changes]
    assert states[:3] == [True, False, True]
    back_online = changes[2]
    assert back_online.outage_s is not None and back_online.outage_s >= 1.0
    assert all(b.timestamp > a.timestamp for a, b in pairwise(after))


def collect_for(worker: CaptureWorker, seconds: float) -> list[Frame]:
    frames = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        frame = worker.get(timeout=0.2)
        if frame is not None:
            frames.append(frame)
    return frames


@pytest.mark.slow
def test_stalled_stream_is_reported_and_reopened(intersection_video: Path) -> None:
    """The connection stays open but no frame comes: offline after the stall timeout, then back."""
    camera = MjpegCamera(load_jpegs(intersection_video, 25), free_port(), fps=25)
    camera.start()
    changes: list[StatusChange] = []
    config = SourceConfig(
        uri=camera.url, stall_timeout_s=1.0, reconnect_initial_s=0.2, reconnect_max_s=0.5
    )
    worker = CaptureWorker(config, on_status=changes.append)
    worker.start()
    try:
        assert collect_for(worker, 1.0)
        camera.paused.set()
        time.sleep(3.0)
        assert not worker.online
        camera.paused.clear()
        after = collect_for(worker, 3.0)
    finally:
        worker.stop()
        camera.stop()
    assert after, "frames after the stall"
    offline = [c for c in changes if not c.online]
    assert offline and offline[0].reason.startswith(("stalled", "end of stream"))
    first_offline = changes.index(offline[0])
    recovered = [c for c in changes[first_offline:] if c.online]
    assert recovered and recovered[0].outage_s is not None and recovered[0].outage_s >= 1.0


def test_a_looping_file_keeps_time_running_across_the_seam(overpass_video: Path) -> None:
    """The demo loops its clip: each pass goes on one frame period after the last one.

    The first frame of a later pass once got the whole clip's length added twice (its index
    counted every earlier pass), so a real-time demo waited one clip longer at each seam and
    fell silent after a few minutes.
    """
    config = SourceConfig(uri=str(overpass_video), camera_id="overpass", loop=True)
    worker = CaptureWorker(config)
    worker.start()
    frames: list[Frame] = []
    try:
        while len(frames) < 2 * 608 + 5:
            frame = worker.get(timeout=30)
            assert frame is not None
            frames.append(frame)
    finally:
        worker.stop()
    steps = [b.timestamp - a.timestamp for a, b in pairwise(frames)]
    assert all(step == pytest.approx(1 / 30, abs=1e-3) for step in steps), [
        (i, round(s, 3)) for i, s in enumerate(steps) if abs(s - 1 / 30) > 1e-3
    ][:5]
    assert frames[2 * 608].timestamp == pytest.approx(2 * 608 / 30, abs=1e-3)


def test_rate_limiter_keeps_evenly_spaced_frames() -> None:
    rate = FrameRateLimiter(10)
    kept = [index for index in range(50) if rate.keep(index / 25)]  # 2 s of a 25 fps camera
    assert len(kept) == 20
    assert {b - a for a, b in pairwise(kept)} == {2, 3}  # 2 of every 5 frames
    every = FrameRateLimiter(None)
    assert all(every.keep(index / 25) for index in range(50))


def test_rate_limiter_does_not_burst_after_a_stall() -> None:
    rate = FrameRateLimiter(10)
    assert rate.keep(0.0)
    assert rate.keep(5.0)  # the first frame after a 5 s gap
    assert not rate.keep(5.04)
    assert rate.keep(5.1)


def test_rate_limiter_refuses_a_rate_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="max_fps"):
        FrameRateLimiter(0)
