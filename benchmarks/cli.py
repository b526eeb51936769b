"""Sub-commands of the ``benchmarks`` domain: ``bench`` (the real-time path)."""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.capacity import BACKENDS, CapacityConfig
from benchmarks.gpu import CAMERA_COUNTS, GpuBenchConfig, run_gpu_bench
from benchmarks.realtime import ALL_MODELS, RESULTS_DIR, BenchConfig, run, save

logger = logging.getLogger(__name__)

SMOKE_FRAMES = 5
SMOKE_CAPACITY = CapacityConfig(duration_s=1.0, warmup_s=0.5, max_streams=1, max_drop_share=1.0)
"""Smoke capacity: one camera for a second, no pass mark (it only has to run)."""
OPENVINO_BACKENDS = ("openvino-f32", "openvino-bf16")
"""Rows ``--openvino`` adds beside ONNX Runtime's."""


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
    parser.add_argument(
        "--no-path", action="store_true", help="skip the per-stage path (capacity/OpenVINO only)"
    )
    parser.add_argument(
        "--no-pipelined", action="store_true", help="skip our pipelined (threaded) path"
    )
    parser.add_argument(
        "--session-variants",
        action="store_true",
        help="also time ONNX Runtime session variants (no spinning, I/O binding)",
    )
    parser.add_argument(
        "--capacity",
        action="store_true",
        help="measure sustained cameras: N paced 25 fps streams at 10 fps each through the "
        "edge pipeline, N growing until frames drop",
    )
    parser.add_argument(
        "--capacity-seconds", type=float, default=20.0, help="measured window per stream count"
    )
    parser.add_argument("--max-streams", type=int, default=16, help="highest stream count tried")
    parser.add_argument(
        "--start-streams", type=int, default=1, help="first stream count tried (default 1)"
    )
    parser.add_argument(
        "--openvino",
        action="store_true",
        help="add the whole path on the OpenVINO runtime (f32 and bf16 rows) and compare its "
        "network call with ONNX Runtime's",
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=BACKENDS,
        default=None,
        metavar="BACKEND",
        help=f"detector back-ends of the path, one row each, from: {' '.join(BACKENDS)} "
        "(default: onnxruntime, plus openvino-f32 openvino-bf16 with --openvino)",
    )
    parser.add_argument(
        "--capacity-backend",
        choices=BACKENDS,
        default="onnxruntime",
        help="detector back-end of the capacity search (default onnxruntime)",
    )
    _add_gpu_arguments(parser)
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_FRAMES} frames, yolo11n only")
    parser.add_argument("--video", type=Path, default=None, help="clip (default: the overpass)")
    parser.add_argument("--out", type=Path, default=None, help="JSON report path")
    parser.set_defaults(handler=_run_bench)


def _add_gpu_arguments(parser: argparse.ArgumentParser) -> None:
    gpu = parser.add_argument_group("many cameras on a GPU (--gpu, benchmarks/gpu.py)")
    gpu.add_argument(
        "--gpu",
        action="store_true",
        help="the torch runtime end to end, network-only and Ultralytics per camera count; "
        "writes realtime_gpu.json (CUDA) or realtime_gpu_cpu_dryrun.json (no CUDA)",
    )
    gpu.add_argument("--cameras", type=int, nargs="+", default=list(CAMERA_COUNTS))
    gpu.add_argument("--gpu-seconds", type=float, default=10.0, help="end-to-end window per count")
    gpu.add_argument("--loop-seconds", type=float, default=4.0, help="network / Ultralytics loops")
    gpu.add_argument("--processes", type=int, default=1, help="edge processes sharing the GPU")
    gpu.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: CUDA if seen)")
    gpu.add_argument("--compile", default="off", help="torch_compile mode of the detector")
    gpu.add_argument("--fp32", action="store_true", help="FP32 on CUDA instead of FP16")
    gpu.add_argument("--budget-s", type=float, default=420.0, help="no count starts after this")


def _run_gpu_bench(args: argparse.Namespace) -> int:
    config = GpuBenchConfig(
        cameras=args.cameras,
        seconds=args.gpu_seconds,
        loop_seconds=args.loop_seconds,
        warmup_s=min(4.0, args.gpu_seconds / 2),
        processes=args.processes,
        device=args.device,
        half=not args.fp32,
        compile=args.compile,
        budget_s=args.budget_s,
        ultralytics=not args.no_ultralytics,
    )
    report = run_gpu_bench(config, args.out)
    print(f"{'cameras':>8} {'end to end':>11} {'network':>9} {'Ultralytics':>12} {'speed-up':>9}")
    for row in report["runs"]:
        print(
            f"{row['cameras']:>8} {row['end_to_end_fps']:>11.1f} {row['network_fps']:>9.1f} "
            f"{row.get('ultralytics_fps') or 0:>12.1f} {_ratio(row['speedup_vs_ultralytics']):>9}"
        )
    print(f"device {report['device']} ({report['device_name']}); wrote {report['out']}")
    return 0


def _run_bench(args: argparse.Namespace) -> int:
    if args.gpu:
        return _run_gpu_bench(args)
    device = "gpu" if set(args.providers) & {"cuda", "tensorrt"} else "cpu"
    config = BenchConfig(
        models=["yolo11n@320"] if args.smoke else args.models,
        frames=SMOKE_FRAMES if args.smoke else args.frames,
        providers=args.providers,
        batch=args.batch,
        ultralytics=not args.no_ultralytics,
        path=not args.no_path,
        pipelined=not args.no_pipelined,
        session_variants=args.session_variants,
        capacity=_capacity_config(args),
        openvino=args.openvino,
        backends=_backends(args),
    )
    if args.video is not None:
        config.video = args.video
    out = args.out or RESULTS_DIR / f"realtime_{device}{'_smoke' if args.smoke else ''}.json"
    report = run(config)
    chart = save(report, out)
    _print_summary(report)
    print(f"wrote {out}" + (f" and {chart}" if chart else ""))
    return 0


def _backends(args: argparse.Namespace) -> list[str]:
    if args.backends:
        return list(args.backends)
    return ["onnxruntime", *OPENVINO_BACKENDS] if args.openvino else ["onnxruntime"]


def _capacity_config(args: argparse.Namespace) -> CapacityConfig | None:
    if not args.capacity:
        return None
    if args.smoke:
        return replace(SMOKE_CAPACITY, backend=args.capacity_backend)
    return CapacityConfig(
        duration_s=args.capacity_seconds,
        start_streams=args.start_streams,
        max_streams=args.max_streams,
        backend=args.capacity_backend,
    )


def _print_summary(report: dict[str, Any]) -> None:
    print(
        f"{'model':<18} {'backend':<14} {'precision':<9} {'e2e fps':>8} {'NN share':>9} "
        f"{'vs Ultralytics':>15} {'piped':>7} {'vs UL PyTorch':>14} {'piped':>7}"
    )
    for r in report["runs"]:
        name = f"{r['model']:<18} {r.get('backend', 'onnxruntime'):<14}"
        if "end_to_end_fps" in r:
            ratio = _ratio(r.get("speedup_vs_ultralytics_track"))
            piped = _ratio(r.get("speedup_vs_ultralytics_track_pipelined"))
            torch_ratio = _ratio(r.get("speedup_vs_ultralytics_pytorch_track"))
            torch_piped = _ratio(r.get("speedup_vs_ultralytics_pytorch_track_pipelined"))
            print(
                f"{name} {r.get('precision', '-'):<9} {r['end_to_end_fps']:>8.1f} "
                f"{r['share_in_network']:>9.1%} {ratio:>15} {piped:>7} "
                f"{torch_ratio:>14} {torch_piped:>7}"
            )
        if "capacity" in r:
            cap = r["capacity"]
            steps = "; ".join(
                f"{c['streams']}: {c['processed_fps_per_camera_min']:.1f} fps, "
                f"{c['frames_dropped']} dropped"
                for c in cap["runs"]
            )
            print(f"{name} sustained streams {cap['sustained_streams']} ({steps})")
    for backend, reason in report.get("backends_left_out", {}).items():
        print(f"{backend} left out: {reason}")
    for label, stats in report.get("interleaved_inference", {}).items():
        print(f"interleaved inference {label:<18} p50 {stats['p50_ms']:8.1f} ms")
    openvino = report.get("openvino")
    if openvino is not None and not openvino["available"]:
        print(f"OpenVINO skipped: {openvino['reason']}")
    for r in (openvino or {}).get("runs", []):
        print(
            f"OpenVINO {r['model']:<14} ORT p50 {r['onnxruntime']['p50_ms']:.1f} ms, "
            f"OpenVINO f32 {r['openvino_f32']['p50_ms']:.1f} ms "
            f"({r['openvino_f32_speedup_p50']:.2f}x)"
        )
    print(f"peak memory {report['peak_memory_mib']} MiB; load {report['load_average_at_start']}")


def _ratio(value: float | None) -> str:
    return f"{value:.2f}x" if value else "-"
