"""Does the analysis thread of ``edge run`` raise capacity? The two frame loops, side by side.

``edge run`` analyses one round of frames (tracking, rules, events) in its own thread while
the next round is detected (:class:`edge.pipeline.runner.AnalysisWorker`). This benchmark
runs the same paced cameras (:func:`benchmarks.capacity.measure_streams`: 25 fps cameras
processed at 10 fps each) through that pipeline and through the loop it replaced, where
detection and analysis take turns (``analysis_thread: false``). The two take turns count by
count and repeat by repeat, starting alternately, so that a change of machine load touches
both alike; per stream count it records how many repeats each held (10 fps per camera, no
more than 0.5 % of frames dropped) and the figures of every run.

Run (about 30 s per count, loop and repeat)::

    .venv/bin/python -m benchmarks.analysis_overlap --model yolo11n-rect@320 --streams 9 10 11 12
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.capacity import BACKENDS, CapacityConfig, detector_for, measure_streams
from benchmarks.detection_path import machine_info
from benchmarks.realtime import SCENE, BenchConfig, resolve_model
from edge.detector import Detector
from edge.scene import SceneConfig
from edge.scene.config import load_scene
from traffic_monitor.shared_data import REPO_ROOT

logger = logging.getLogger(__name__)

RESULT = REPO_ROOT / "benchmarks" / "results" / "analysis_overlap_cpu.json"


LOOPS = {"threaded": True, "sequential": False}
"""The frame loops compared, by name: ``edge run``'s ``analysis_thread`` setting."""


def compare_loops(
    detector: Detector,
    scene: SceneConfig,
    video: Path,
    streams: Sequence[int],
    *,
    repeats: int,
    config: CapacityConfig,
) -> dict[str, Any]:
    """Run every stream count through both loops ``repeats`` times, taking turns.

    Returns:
        ``{"loops": {loop: {"held": {count: repeats held}, "runs": [...]}}}``, where each run
        is :func:`~benchmarks.capacity.measure_streams`' figures with its repeat added.
    """
    loops: dict[str, dict[str, Any]] = {name: {"held": {}, "runs": []} for name in LOOPS}
    for repeat in range(repeats):
        order = list(LOOPS) if repeat % 2 == 0 else list(reversed(LOOPS))
        for count in streams:
            for name in order:
                result = measure_streams(
                    count, detector, scene, video, config, analysis_thread=LOOPS[name]
                )
                result["repeat"] = repeat
                loops[name]["runs"].append(result)
                held = loops[name]["held"]
                held[str(count)] = held.get(str(count), 0) + int(result["sustained"])
                logger.info(
                    "%s loop, %d streams, repeat %d: %.2f fps/camera (min), %.2f %% dropped",
                    name,
                    count,
                    repeat,
                    result["processed_fps_per_camera_min"],
                    100 * result["drop_share"],
                )
    return {"loops": loops}


def main(argv: list[str] | None = None) -> int:
    """Compare the two loops on one model and back-end; write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", default="yolo11n-rect@320", help="model label (bench's)")
    parser.add_argument("--backend", default="openvino-bf16", choices=BACKENDS)
    parser.add_argument("--streams", type=int, nargs="+", default=[9, 10, 11, 12])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per run")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    bench = BenchConfig()
    case = resolve_model(args.model, bench.cache, bench.video)
    if case is None:
        logger.error("model %s is not available (see the bench's model labels)", args.model)
        return 2
    scene = load_scene(SCENE)
    detector = detector_for(scene, case.path, ["cpu"], backend=args.backend)
    config = CapacityConfig(duration_s=args.seconds, backend=args.backend)
    report = {
        "benchmark": "analysis_overlap",
        "model": args.model,
        "backend": args.backend,
        "video": bench.video.name,
        "criteria": {
            "camera_fps": config.camera_fps,
            "process_fps_per_camera": config.process_fps,
            "window_s": config.duration_s,
            "max_drop_share": config.max_drop_share,
            "min_rate_share": config.min_rate_share,
        },
        "machine": machine_info(),
        **compare_loops(
            detector, scene, bench.video, args.streams, repeats=args.repeats, config=config
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    for name, loop in report["loops"].items():
        held = ", ".join(f"{count}: {n}/{args.repeats}" for count, n in loop["held"].items())
        logger.info("%s loop held (streams: repeats) %s", name, held)
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
