"""Sub-commands of the ``benchmarks`` domain: ``bench`` (the real-time path)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from benchmarks.realtime import ALL_MODELS, RESULTS_DIR, BenchConfig, run, save

logger = logging.getLogger(__name__)

SMOKE_FRAMES = 5


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this domain's sub-commands to the ``traffic-monitor`` parser."""
    parser = subparsers.add_parser(
        "bench",
        help="per-stage latency, fps and capacity of the real-time path (JSON + PNG)",
        description="Benchmark decode → detect → track → rules → publish on the shared clip, "
        "beside Ultralytics' predict + track. Timings are disturbed by other load: the "
        "report records the load average.",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=["yolov8n@640", "yolo11n@320"],
        choices=ALL_MODELS,
        metavar="MODEL",
        help=f"models to run, from: {' '.join(ALL_MODELS)}",
    )
    parser.add_argument("--frames", type=int, default=150, help="frames per model")
    parser.add_argument(
        "--providers", nargs="+", default=["cpu"], help="cpu | cuda | tensorrt | openvino"
    )
    parser.add_argument(
        "--batch", type=int, default=0, help="also time batched inference over N streams"
    )
    parser.add_argument(
        "--no-ultralytics", action="store_true", help="skip Ultralytics predict + track"
    )
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_FRAMES} frames, yolo11n only")
    parser.add_argument("--video", type=Path, default=None, help="clip (default: the overpass)")
    parser.add_argument("--out", type=Path, default=None, help="JSON report path")
    parser.set_defaults(handler=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    device = "gpu" if set(args.providers) & {"cuda", "tensorrt"} else "cpu"
    config = BenchConfig(
        models=["yolo11n@320"] if args.smoke else args.models,
        frames=SMOKE_FRAMES if args.smoke else args.frames,
        providers=args.providers,
        batch=args.batch,
        ultralytics=not args.no_ultralytics,
    )
    if args.video is not None:
        config.video = args.video
    out = args.out or RESULTS_DIR / f"realtime_{device}{'_smoke' if args.smoke else ''}.json"
    report = run(config)
    chart = save(report, out)
    print(f"{'model':<18} {'e2e fps':>8} {'NN share':>9} {'streams':>8} {'vs Ultralytics':>15}")
    for r in report["runs"]:
        ratio = r.get("speedup_vs_ultralytics_track")
        print(
            f"{r['model']:<18} {r['end_to_end_fps']:>8.1f} {r['share_in_network']:>9.1%} "
            f"{r['capacity_streams_25fps_at_10fps']:>8d} "
            f"{(f'{ratio:.2f}x' if ratio else '-'):>15}"
        )
    for label, stats in report["interleaved_inference"].items():
        print(f"interleaved inference {label:<18} p50 {stats['p50_ms']:8.1f} ms")
    print(f"peak memory {report['peak_memory_mib']} MiB; load {report['load_average_at_start']}")
    print(f"wrote {out}" + (f" and {chart}" if chart else ""))
    return 0
