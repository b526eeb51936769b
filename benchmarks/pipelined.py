"""The per-frame path as a small pipeline, and ONNX Runtime session variants.

Sequentially, a frame is pre-processed, run through the network, decoded, tracked and
checked by the rules before the next one starts. ONNX Runtime and OpenCV release the GIL, so
three threads can overlap that work: one letterboxes frame k+1 while the main thread runs the
network on frame k and a third decodes, tracks and runs the rules of frame k-1. On a machine
whose cores are all busy inside the network, overlapping only helps as far as the network
leaves cores idle; the benchmark measures how far that is.

The session variants time the same network call with ONNX Runtime's options: the edge
default, threads not spinning after a run (``session.intra_op.allow_spinning = 0``: cores go
back to the other threads at once), and I/O binding into a preallocated output.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnxruntime as ort

from edge.detections import Detections
from edge.detector import Detector, YoloOnnxModel
from edge.detector.preprocess import Letterbox, letterbox
from edge.detector.providers import resolve_providers, session_options
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

Array = np.ndarray[Any, Any]
Finish = Callable[[int, Detections], None]
"""What happens after detection: ``finish(frame_index, detections)`` (track, rules, publish)."""

_Item = tuple[int, Array, Letterbox]


def run_pipelined(
    detector: Detector,
    frames: Sequence[Array],
    finish: Finish,
    depth: int = 2,
    network_s: list[float] | None = None,
) -> float:
    """Run the whole path on ``frames`` with pre-process, network and the rest overlapped.

    Args:
        detector: The edge detector (its session, thresholds and class filter are used).
        frames: BGR frames in order.
        finish: Called in order for every frame with its detections (tracking, rules…).
        depth: Frames waiting between two stages.
        network_s: When given, the wall seconds of every network call are appended to it
            (as the calls run here, beside the other stages).

    Returns:
        Wall seconds for all frames.

    Raises:
        RuntimeError: A stage thread failed (its exception is chained).
    """
    prepared: queue.Queue[_Item | None] = queue.Queue(depth)
    inferred: queue.Queue[_Item | None] = queue.Queue(depth)
    errors: list[BaseException] = []

    def prepare() -> None:
        try:
            for index, frame in enumerate(frames):
                image, transform = letterbox(frame, detector.input_size_for(frame))
                prepared.put((index, detector.model.prepare([image]), transform))
        except Exception as exc:  # reported by the caller
            errors.append(exc)
        finally:
            prepared.put(None)

    def complete() -> None:
        while (item := inferred.get()) is not None:
            if errors:
                continue  # keep draining so the network stage never blocks
            index, output, transform = item
            try:
                finish(index, detector._decode(output[0], transform, frames[index]))
            except Exception as exc:  # reported by the caller
                errors.append(exc)

    started = time.perf_counter()
    workers = [
        threading.Thread(target=prepare, name="path-prepare", daemon=True),
        threading.Thread(target=complete, name="path-complete", daemon=True),
    ]
    for worker in workers:
        worker.start()
    try:
        while (item := prepared.get()) is not None:
            index, blob, transform = item
            began = time.perf_counter()
            output = detector.model.run(blob)
            if network_s is not None:
                network_s.append(time.perf_counter() - began)
            inferred.put((index, output, transform))
    finally:
        inferred.put(None)
        for worker in workers:
            worker.join()
    if errors:
        raise RuntimeError("a stage of the pipelined path failed") from errors[0]
    return time.perf_counter() - started


def onnx_model(detector: Detector) -> YoloOnnxModel:
    """The detector's ONNX Runtime model.

    Raises:
        UserFacingError: The detector runs on another runtime (session options do not apply).
    """
    if not isinstance(detector.model, YoloOnnxModel):
        raise UserFacingError(
            "ONNX Runtime session variants need runtime: onnxruntime, not "
            f"{detector.config.runtime}"
        )
    return detector.model


def use_session_options(detector: Detector, entries: dict[str, str]) -> None:
    """Reload the detector's network with extra ONNX Runtime session config entries."""
    model = onnx_model(detector)
    options = session_options(detector.config)
    for key, value in entries.items():
        options.add_session_config_entry(key, value)
    providers = resolve_providers(detector.config)
    model.session = ort.InferenceSession(
        str(model.path),
        sess_options=options,
        providers=[name for name, _ in providers],
        provider_options=[opts for _, opts in providers],
    )


NO_SPIN = {"session.intra_op.allow_spinning": "0", "session.inter_op.allow_spinning": "0"}
"""Session entries that stop ONNX Runtime's threads spinning after a run."""


def session_variants(detector: Detector, blobs: Sequence[Array], block: int = 10) -> dict[str, Any]:
    """Seconds per network call of the edge session, a non-spinning one and I/O binding.

    The variants take turns in blocks of ``block`` calls on the same blobs.
    """
    from benchmarks.detection_path import summarise
    from benchmarks.openvino_compare import interleaved

    info = detector.model.info
    default = onnx_model(detector).session
    binding = default.io_binding()
    output = np.empty(default.run(None, {info.input_name: blobs[0]})[0].shape, np.float32)
    binding.bind_output(
        info.output_name, "cpu", 0, np.float32, list(output.shape), output.ctypes.data
    )

    def bound(blob: Array) -> Array:
        binding.bind_cpu_input(info.input_name, blob)
        default.run_with_iobinding(binding)
        return output

    def plain(blob: Array) -> Array:
        result: Array = default.run([info.output_name], {info.input_name: blob})[0]
        return result

    quiet = Detector(detector.config)
    use_session_options(quiet, NO_SPIN)
    runners = {"edge_default": plain, "no_spinning": quiet.model.run, "io_binding": bound}
    seconds = interleaved(runners, blobs, block)
    return {name: summarise(values) for name, values in seconds.items()}
