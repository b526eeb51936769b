"""Measure speed accuracy on the synthetic scenes: ``python -m benchmarks.speed_rig``.

Writes ``benchmarks/results/speed_accuracy.json``: per rig camera (the overpass camera and a
pole-mounted oblique one), per scene and overall, mean absolute speed error, 95th percentile
and the share of vehicles measured, for the true camera and calibration methods 1, 2 and 3;
and the counting error and wrong-way detections of the ``edge/rules`` rules on the same tracks.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.speed_rig.cache import DEFAULT_CACHE, scene_key
from benchmarks.speed_rig.measure import SceneRun, Score, run_scene, score, track_vehicle
from benchmarks.speed_rig.methods import grid_error, method1, method2, method3, method3_ideal
from benchmarks.speed_rig.render import Image, median_background
from benchmarks.speed_rig.rules_check import merge_rule_summaries, rule_summary
from benchmarks.speed_rig.scenes import MOUNTS, standard_scenes
from benchmarks.speed_rig.sprites import Sprite, load_sprites
from calibration.camera import CalibrationError, CameraModel
from calibration.pinhole import PinholeMount
from edge.detector import Detector, DetectorConfig
from edge.rules.kinematics import RIGID_VEHICLE
from traffic_monitor.shared_data import shared_path

logger = logging.getLogger(__name__)

RESULTS = Path(__file__).resolve().parent.parent / "results" / "speed_accuracy.json"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per scene")
    parser.add_argument("--scenes", nargs="*", default=None, help="scene names (default: all)")
    parser.add_argument("--model", type=Path, default=shared_path("models", "yolov8n.onnx"))
    parser.add_argument("--confidence", type=float, default=0.1, help="detector threshold")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated clicks")
    parser.add_argument(
        "--cameras", nargs="*", default=list(MOUNTS), help=f"rig cameras ({', '.join(MOUNTS)})"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--cache",
        type=Path,
        default=DEFAULT_CACHE,
        help="folder of rendered scenes' detections, reused when the scene and detector match",
    )
    parser.add_argument("--no-cache", action="store_true", help="render every scene afresh")
    return parser.parse_args()


def _merge(scores: list[Score]) -> Score:
    return Score(
        errors_kmh=[e for s in scores for e in s.errors_kmh],
        vehicles_eligible=sum(s.vehicles_eligible for s in scores),
        vehicles_measured=sum(s.vehicles_measured for s in scores),
        per_vehicle_mae_kmh={},
    )


def _calibrations(
    runs: list[SceneRun], mount: PinholeMount, seed: int
) -> tuple[dict[str, CameraModel], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    truth = mount.camera_model()
    models: dict[str, CameraModel] = {"true_camera": truth}
    info: dict[str, Any] = {}
    models["method1_points"] = method1(mount, rng)
    model2, focal2 = method2(mount, rng)
    models["method2_road_geometry"] = model2
    info["method2_road_geometry"] = {"focal_px": focal2, "true_focal_px": mount.focal_px}
    for name in ("method3_auto_tracks", "method3b_auto_known_focal", "method3_ideal_detector"):
        try:
            if name == "method3_ideal_detector":
                auto = method3_ideal(runs, mount)
            else:
                auto = method3(runs, mount, known_focal=name == "method3b_auto_known_focal")
        except CalibrationError as exc:
            info[name] = {"failed": str(exc)}
            continue
        models[name] = auto.model
        info[name] = {
            "focal_px": round(auto.focal_px, 1),
            "pitch_deg": round(auto.pitch_deg, 2),
            "yaw_deg": round(auto.yaw_deg, 2),
            "height_m": round(auto.height_m, 2),
            "road_vanishing_point": [round(v, 1) for v in auto.vp_road],
            "tracks_used": auto.tracks_used,
            "edges_used": auto.edges_used,
            "truth": {
                "focal_px": mount.focal_px,
                "pitch_deg": mount.pitch_deg,
                "yaw_deg": mount.yaw_deg,
                "height_m": mount.height_m,
            },
            "vs_method1": grid_error(auto.model, models["method1_points"], mount),
        }
    for name, model in models.items():
        info.setdefault(name, {})["vs_true_camera"] = grid_error(model, truth, mount)
    return models, info


def _camera(
    mount: PinholeMount,
    background: Image,
    sprites: list[Sprite],
    detector: Detector,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Every scene seen by one rig camera: speed errors per calibration, rule checks."""
    scenes = standard_scenes(background, sprites, args.duration, mount)
    if args.scenes:
        scenes = [s for s in scenes if s.name in args.scenes]
    runs, seconds = [], {}
    identity = f"{args.model.name}:{args.model.stat().st_size}:{args.confidence}"
    for scene in scenes:
        start = time.perf_counter()
        cache = None if args.no_cache else args.cache / f"{scene_key(scene, identity)}.npz"
        runs.append(run_scene(scene, detector.detect_one, detector.names, cache))
        seconds[scene.name] = round(time.perf_counter() - start, 1)
        logger.info(
            "scene %s: %d frames in %.0f s", scene.name, scene.frame_count, seconds[scene.name]
        )
    models, info = _calibrations(runs, mount, args.seed)
    results: dict[str, Any] = {}
    for name, model in models.items():
        per_scene = {run.scene.name: score(run, model) for run in runs}
        results[name] = {
            "overall": _merge(list(per_scene.values())).summary(),
            "scenes": {scene: value.summary() for scene, value in per_scene.items()},
        }
    rules = {}
    for run in runs:
        if run.rules is not None:
            owner = {tid: track_vehicle(log) for tid, log in run.tracks.items()}
            rules[run.scene.name] = rule_summary(run.rules, run.truths, run.scene, owner)
    return {
        "camera": {
            "focal_px": mount.focal_px,
            "image_size": mount.image_size,
            "height_m": mount.height_m,
            "pitch_deg": mount.pitch_deg,
            "yaw_deg": mount.yaw_deg,
            "position_xy": mount.position_xy,
        },
        "scenes": {
            s.name: {
                "fps": s.fps,
                "frames": s.frame_count,
                "vehicles": len(s.vehicles),
                "speeds_kmh": [v.trajectory.v0_kmh for v in s.vehicles],
            }
            for s in scenes
        },
        "render_seconds": seconds,
        "scenes_from_cache": [run.scene.name for run in runs if run.from_cache],
        "calibration": info,
        "results": results,
        "rules": {"overall": merge_rule_summaries(list(rules.values())), "scenes": rules},
    }


def main() -> int:
    """Render, detect, track, calibrate three ways, score, check rules, write JSON."""
    args = _arguments()
    load_start = os.getloadavg()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    detector = Detector(
        DetectorConfig(
            model=args.model, confidence=args.confidence, classes=["car", "truck", "bus"]
        )
    )
    background = median_background(shared_path("data", "videos", "vn_nga_ba_hue_overpass_20s.mp4"))
    sprites = load_sprites(shared_path("data", "detection"), 12)
    cameras = {
        name: _camera(MOUNTS[name], background, sprites, detector, args) for name in args.cameras
    }
    report = {
        "benchmark": "speed_accuracy",
        "created": datetime.now(UTC).isoformat(),
        "command": "python -m benchmarks.speed_rig " + " ".join(sys.argv[1:]),
        "machine": {
            "platform": platform.platform(),
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
            "note": "shared 2-core machine: timings are disturbed, accuracy figures are not",
        },
        "setup": {
            "detector": str(args.model.name),
            "confidence": args.confidence,
            "speed_window_s": 1.0,
            "truth": "instantaneous true speed at the mean time of the fit window",
            "fit": "edge.rules.kinematics.world_speed: jump filter, then the rigid-vehicle "
            f"box-height check (max_relative {RIGID_VEHICLE.max_relative}), least squares",
            "rules": "edge/rules line_crossing and wrong_way, default parameters",
        },
        "cameras": cameras,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for camera, data in cameras.items():
        for name, value in data["results"].items():
            print(f"{camera:9s} {name:26s} {value['overall']}")
        print(f"{camera:9s} rules {data['rules']['overall']}")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
