"""Sub-commands of the ``models`` domain: ``eval``, ``export`` and ``quantize``."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

from edge.detector.config import OpenVinoPrecision, RuntimeName
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this domain's sub-commands to the ``traffic-monitor`` parser."""
    parser = subparsers.add_parser("models", help="evaluate, export and quantise detectors")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    _register_eval(sub)
    _register_loso(sub)
    _register_sheet(sub)
    _register_export(sub)
    _register_quantize(sub)
    _register_train(sub)
    _register_heads(sub)


def _register_eval(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "eval", help="COCO-style mAP50 / mAP50-95 per class on a YOLO-format labelled set"
    )
    parser.add_argument("model", type=Path, help="ONNX detection model")
    parser.add_argument("dataset", type=Path, help="folder with images/, labels/, data.yaml")
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="MODEL=SET",
        help="map a model class to a set class (repeatable); equal names map by themselves",
    )
    parser.add_argument(
        "--merge-riders",
        action="store_true",
        help="fold each person box into the motorcycle/bicycle box it rides on (sets that box "
        "rider and bike together)",
    )
    parser.add_argument("--confidence", type=float, default=0.001, help="score floor")
    parser.add_argument("--iou", type=float, default=0.6, help="NMS IoU threshold")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument(
        "--split", type=Path, default=None, help="only the images listed in this file (val.txt)"
    )
    parser.add_argument("--providers", nargs="+", default=["cpu"], help="cpu cuda tensorrt …")
    parser.add_argument(
        "--runtime",
        choices=get_args(RuntimeName),
        default="onnxruntime",
        help="inference runtime, as the edge detector's runtime (openvino: the openvino extra, "
        "torch: the torch extra)",
    )
    parser.add_argument(
        "--device", default="cpu", help="cpu, cuda or cuda:N for --runtime torch (FP16 on CUDA)"
    )
    parser.add_argument(
        "--openvino-precision",
        choices=get_args(OpenVinoPrecision),
        default="f32",
        help="arithmetic of the openvino runtime (bf16: faster on CPUs with AVX-512 BF16 or "
        "AMX; measure what it costs here)",
    )
    parser.add_argument(
        "--crosscheck", action="store_true", help="also score with faster-coco-eval and compare"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the report as JSON here")
    parser.set_defaults(handler=_run_eval)


def _register_loso(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "loso",
        help="leave-one-site-out accuracy: pooled, per scene type and per camera (site)",
        description="Accuracy as on unseen cameras (models/crossval.py). A model not trained "
        "on the set scores every site as unseen; models trained fold by fold are given with "
        "--fold, one per fold, each scored on the sites its training left out.",
    )
    parser.add_argument("model", type=Path, nargs="?", help="ONNX model (omit with --fold)")
    parser.add_argument("--preset", default="vn-vehicles", help="labelled set (its sites.yaml)")
    parser.add_argument(
        "--fold", type=Path, action="append", default=[], help="fold model, in fold order"
    )
    parser.add_argument("--imgsz", type=int, default=None, help="input long side (dynamic model)")
    parser.add_argument("--merge-riders", action="store_true", help="fold riders into bikes")
    parser.add_argument(
        "--tiles", type=frame_size, default=None, metavar="CxR", help="tile grid, e.g. 2x2"
    )
    parser.add_argument("--tile-imgsz", type=int, default=None, help="tile input long side")
    parser.add_argument(
        "--part", choices=("dev", "holdout", "all"), default="dev", help="dev: tuning part"
    )
    parser.add_argument(
        "--sites", nargs="+", default=None, help="only these sites (e.g. a fold's held-out site)"
    )
    parser.add_argument(
        "--as-stored",
        action="store_true",
        help="detect on the images as stored (the road set's are 16:9 frames squeezed to "
        "640 x 640; by default they are given the frame_aspect of sites.yaml back)",
    )
    parser.add_argument("--out", type=Path, default=None, help="report JSON")
    parser.add_argument(
        "--predictions", type=Path, default=None, help="also save the per-image predictions"
    )
    parser.set_defaults(handler=_run_loso)


def _run_loso(args: argparse.Namespace) -> int:
    from models.loso import LosoOptions, run_loso

    if (args.model is None) == (not args.fold):
        raise UserFacingError("give one MODEL, or --fold once per fold (not both)")
    options = LosoOptions(
        preset=args.preset,
        models=[args.model] if args.model else list(args.fold),
        imgsz=args.imgsz,
        merge_riders=args.merge_riders,
        tiles=args.tiles,
        tile_imgsz=args.tile_imgsz,
        part=args.part,
        sites=args.sites,
        as_stored=args.as_stored,
    )
    report = run_loso(options, args.predictions)
    print(format_loso(report))
    if args.out:
        _write_report(args.out, report)
    return 0


def _register_sheet(sub: argparse._SubParsersAction[Any]) -> None:
    from models.crossval import FALSE_POSITIVE_KINDS

    parser = sub.add_parser(
        "sheet",
        help="contact sheet of the confident predictions that matched no label, by kind",
        description="Crops of the predictions of one class scored at least --score that "
        "matched no label (models loso --predictions FILE), of one kind: unlabelled (nothing "
        "labelled there), box (a label overlapped too little), duplicate (a second box on a "
        "labelled road user), other_class. Predicted box red, labels green.",
    )
    parser.add_argument("predictions", type=Path, help="models loso --predictions JSON")
    parser.add_argument("--class", dest="class_name", required=True, help="e.g. motorcycle")
    parser.add_argument("--kind", choices=FALSE_POSITIVE_KINDS, default="unlabelled")
    parser.add_argument("--preset", default="vn-vehicles", help="the labelled set")
    parser.add_argument("--score", type=float, default=0.25, help="lowest score drawn")
    parser.add_argument("--limit", type=int, default=60, help="cells, highest scores first")
    parser.add_argument("--out", type=Path, required=True, help="image file (.png, .jpg)")
    parser.set_defaults(handler=_run_sheet)


def _run_sheet(args: argparse.Namespace) -> int:
    from models.sheet import SheetOptions, draw_sheet

    options = SheetOptions(
        class_name=args.class_name,
        kind=args.kind,
        preset=args.preset,
        score=args.score,
        limit=args.limit,
    )
    total = draw_sheet(args.predictions, args.out, options)
    print(f"{total} {args.kind} misses of {args.class_name}; wrote {args.out}")
    return 0


def _write_report(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")


def format_loso(report: dict[str, Any]) -> str:
    """The report as a short table: pooled, per type, per site (AP50 per class)."""
    classes = list(report["pooled"]["classes"])
    lines = [
        f"{'slice':<28} {'imgs':>5} {'mAP50':>6} " + " ".join(f"{c[:10]:>10}" for c in classes)
    ]
    rows = [("pooled", report["pooled"])]
    rows += [(f"type {k}", v) for k, v in report["types"].items()]
    rows += [
        (f"  {k}{' (seen)' if v.get('seen_in_training') else ''}", v)
        for k, v in report["sites"].items()
    ]
    for label, figures in rows:
        text = _ap_cells([figures["classes"].get(c, {}).get("ap50") for c in classes])
        lines.append(f"{label[:28]:<28} {figures['images']:>5} {figures['map50']:6.3f} {text}")
        if label == "pooled" and "site_mean" in report:
            text = _ap_cells([report["site_mean"].get(c, {}).get("ap50") for c in classes])
            lines.append(f"{'mean of sites (>= 5 boxes)':<28} {'':>5} {'':>6} {text}")
    if report.get("seen_sites"):
        lines.append(
            "(seen): the model trained on images of that camera (its training list); "
            "pooled and type figures include them"
        )
    return "\n".join(lines)


def _ap_cells(values: list[float | None]) -> str:
    """AP50 values as fixed-width table cells (``-`` where a class has none)."""
    return " ".join(f"{'-' if v is None else f'{v:.3f}':>10}" for v in values)


def _register_heads(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "heads",
        help="the head classifier (helmet / bare head): leave-one-site-out figures, training",
        description="loso: each road camera and web-photo fold scored by a classifier trained "
        "without it, alone and behind the head detector (--part holdout: the untouched "
        "helmet_web photos, once). train: the shipped recipe on the dev part, to ONNX. "
        "Needs the models and torch extras.",
    )
    parser.add_argument("action", choices=("loso", "train"))
    parser.add_argument(
        "--part", choices=("dev", "holdout"), default="dev", help="loso: dev (tuned on) or holdout"
    )
    parser.add_argument("--epochs", type=int, default=15, help="training epochs (last kept)")
    parser.add_argument(
        "--detector", type=Path, default=None, help="loso: head detector (default vn-helmet)"
    )
    parser.add_argument("--out", type=Path, default=None, help="loso: report JSON; train: ONNX")
    parser.set_defaults(handler=_run_heads)


def _run_heads(args: argparse.Namespace) -> int:
    from models import head_classifier as heads
    from models.gate import model_path
    from traffic_monitor.shared_data import shared_path

    data_root = shared_path("data")
    options = heads.TrainOptions(epochs=args.epochs)
    if args.action == "train":
        out = args.out or heads.BUNDLED_FILE
        heads.train_and_export(data_root, out, options)
        print(f"wrote {out}")
        return 0
    detector = args.detector or model_path("vn-helmet")
    report = heads.loso(data_root, detector, args.part, options)
    print(heads.format_report(report))
    if args.out:
        _write_report(args.out, report)
    return 0


def frame_size(text: str) -> tuple[int, int]:
    """Parse ``WIDTHxHEIGHT`` (e.g. ``854x480``) for argparse."""
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit() and int(width) and int(height)):
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 854x480")
    return int(width), int(height)


def _register_export(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser("export", help="Ultralytics .pt → ONNX with metadata (models extra)")
    parser.add_argument("weights", type=Path, help="Ultralytics .pt checkpoint")
    parser.add_argument("--out", type=Path, default=None, help="ONNX file (default: beside .pt)")
    parser.add_argument(
        "--imgsz", type=int, default=640, help="input size, the long side with --frame-size"
    )
    parser.add_argument(
        "--frame-size",
        type=frame_size,
        default=None,
        metavar="WxH",
        help="fit the input to a camera's frames (e.g. 854x480 → 640x384 at --imgsz 640)",
    )
    parser.add_argument("--batch", type=int, default=1, help="fixed batch size")
    parser.add_argument("--dynamic", action="store_true", help="dynamic batch dimension")
    parser.add_argument("--half", action="store_true", help="FP16 weights (for GPU providers)")
    parser.add_argument(
        "--opset", type=int, default=None, help="ONNX opset (default: Ultralytics')"
    )
    parser.set_defaults(handler=_run_export)


def _register_quantize(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "quantize", help="static INT8 (QDQ, per-channel) with calibration on real frames"
    )
    parser.add_argument("model", type=Path, help="float ONNX detection model")
    parser.add_argument("--out", type=Path, default=None, help="INT8 ONNX (default: *_int8_qdq)")
    parser.add_argument(
        "--calibration",
        type=Path,
        nargs="+",
        default=None,
        help="images, image folders or videos to calibrate on (default: the shared set and clips)",
    )
    parser.add_argument("--frames", type=int, default=64, help="calibration frames in all")
    parser.add_argument(
        "--method",
        choices=["minmax", "entropy", "percentile"],
        default="percentile",
        help="calibration method",
    )
    parser.add_argument(
        "--imgsz", type=int, default=None, help="calibration side of a dynamic-size model"
    )
    parser.set_defaults(handler=_run_quantize)


def _register_train(sub: argparse._SubParsersAction[Any]) -> None:
    from models.train import PRESETS

    parser = sub.add_parser(
        "train", help="fine-tune a COCO checkpoint on the shared Vietnamese sets (models extra)"
    )
    parser.add_argument("preset", choices=sorted(PRESETS), help="which product model")
    parser.add_argument(
        "--base",
        type=Path,
        default=None,
        help="checkpoint, or a committed .onnx model to train further "
        "(default: shared models/yolov8n.pt)",
    )
    parser.add_argument("--out", type=Path, default=None, help="run folder (build/train/PRESET)")
    parser.add_argument("--imgsz", type=int, default=416, help="input size (multiple of 32)")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs")
    parser.add_argument("--batch", type=int, default=16, help="images per batch")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--device", default="cpu", help="cpu, or a CUDA device such as 0")
    parser.add_argument("--workers", type=int, default=2, help="data-loader workers")
    parser.add_argument(
        "--hours",
        type=float,
        default=None,
        help="train for this long instead of --epochs (Ultralytics fits the schedule to it)",
    )
    parser.set_defaults(handler=_run_train)


def _parse_map(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        model_name, sep, set_name = pair.partition("=")
        if not sep or not model_name or not set_name:
            raise UserFacingError(
                f"--map {pair!r}: expected MODEL=SET, e.g. --map motorbike=motorcycle"
            )
        mapping[model_name] = set_name
    return mapping


def site_conventions(root: Path) -> Callable[[str], bool] | None:
    """Which images box riders, when ``root`` is a shared set with a site table.

    The shared road set mixes two motorbike boxes (``motorbike_box`` in its ``sites.yaml``),
    so ``models eval --merge-riders`` on it folds riders in only where its labels box them,
    as ``models loso`` does. Other sets: None (merge everywhere).
    """
    from models.crossval import load_sites
    from models.train import PRESETS
    from traffic_monitor.shared_data import shared_path

    for name, preset in PRESETS.items():
        if shared_path(*preset.dataset.split("/")).resolve() == root.resolve():
            return load_sites(name).rider_in_box
    return None


def _run_eval(args: argparse.Namespace) -> int:
    from models.dataset import YoloDataset
    from models.evaluate import RiderMerge, coco_crosscheck, evaluate_model, write_report

    if not args.model.exists():
        raise UserFacingError(f"model {args.model} does not exist")
    dataset = YoloDataset(args.dataset, limit=args.limit, files=args.split)
    merge_where = site_conventions(args.dataset) if args.merge_riders else None
    run = evaluate_model(
        args.model,
        dataset,
        overrides=_parse_map(args.map),
        merge=RiderMerge() if args.merge_riders else None,
        merge_where=merge_where,
        confidence=args.confidence,
        iou=args.iou,
        providers=args.providers,
        runtime=args.runtime,
        openvino_precision=args.openvino_precision,
        device=args.device,
    )
    print(
        f"{args.model.name} on {args.dataset} ({len(run.images)} images, {run.seconds:.1f} s, "
        f"{run.runtime} {run.precision})"
    )
    print(f"{'class':<12} {'gt':>6} {'pred':>7} {'AP50':>7} {'AP50-95':>8} {'R50':>6}")
    for c in run.result.classes:
        if c.ap50 is None:
            print(f"{c.name:<12} {c.ground_truth:>6} {c.predictions:>7}     (no ground truth)")
            continue
        print(
            f"{c.name:<12} {c.ground_truth:>6} {c.predictions:>7} {c.ap50:7.4f} "
            f"{c.ap50_95:8.4f} {c.recall50:6.3f}"
        )
    print(f"{'all':<12} {'':>6} {'':>7} {run.result.map50:7.4f} {run.result.map50_95:8.4f}")
    extra: dict[str, Any] = {"merge_riders": args.merge_riders, "confidence": args.confidence}
    if merge_where is not None:
        extra["merge_where"] = "sites whose labels box riders (sites.yaml motorbike_box)"
    if args.crosscheck:
        check = coco_crosscheck(run.images, dataset.names)
        extra["crosscheck_faster_coco_eval"] = check
        print(f"faster-coco-eval: mAP50 {check['map50']:.4f}  mAP50-95 {check['map50_95']:.4f}")
    if args.out:
        write_report(run, args.model, dataset, extra, args.out)
        print(f"wrote {args.out}")
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from models.export import ExportOptions, export_onnx

    options = ExportOptions(
        imgsz=args.imgsz,
        batch=args.batch,
        dynamic=args.dynamic,
        half=args.half,
        opset=args.opset,
        frame_size=args.frame_size,
    )
    path = export_onnx(args.weights, options, args.out)
    print(f"wrote {path}")
    return 0


def _run_quantize(args: argparse.Namespace) -> int:
    from models.quantize import QuantizeOptions, default_calibration_sources, quantize_static_model

    sources = args.calibration or default_calibration_sources()
    out = args.out or args.model.with_name(f"{args.model.stem}_int8_qdq.onnx")
    options = QuantizeOptions(frames=args.frames, method=args.method, imgsz=args.imgsz)
    report = quantize_static_model(args.model, out, sources, options)
    print(json.dumps(report, indent=2))
    return 0


def _run_train(args: argparse.Namespace) -> int:
    from models.train import PRESETS, TrainOptions, train
    from traffic_monitor.shared_data import REPO_ROOT, shared_path

    preset = PRESETS[args.preset]
    options = TrainOptions(
        preset=preset,
        base=args.base or shared_path("models", "yolov8n.pt"),
        out=args.out or REPO_ROOT / "build" / "train" / preset.name,
        imgsz=args.imgsz,
        epochs=args.epochs,
        batch=args.batch,
        seed=args.seed,
        device=args.device,
        workers=args.workers,
        extra={} if args.hours is None else {"time": args.hours},
    )
    record = train(options)
    print(json.dumps(record, indent=2))
    return 0
