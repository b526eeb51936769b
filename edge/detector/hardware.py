"""What the CPU can compute, and the faster setting a detector could use on it.

OpenVINO runs a network in bfloat16 on CPUs with native BF16 instructions (AVX-512 BF16, AMX).
On such a CPU (a 2-vCPU AMD Zen 5 box) YOLOv8n's network took 1.8x less time in bf16 than in
f32, with the same mAP50 on the shared Vietnamese set (``docs/models.md``). OpenVINO's own
default (``openvino_precision: auto``) is bf16 there, but the detector's default is f32 (the
same arithmetic as ONNX Runtime, on every runtime). A detector left on f32 on such a CPU says
so once at start-up; it never switches by itself, since bf16 moves scores slightly.
"""

from __future__ import annotations

import logging
from pathlib import Path

from edge.detector.config import DetectorConfig

logger = logging.getLogger(__name__)

BF16_FLAGS = ("avx512_bf16", "amx_bf16")
"""``/proc/cpuinfo`` flags of native bfloat16 arithmetic."""


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags (empty where ``/proc/cpuinfo`` is absent or unreadable)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def bf16_hint(config: DetectorConfig, flags: frozenset[str]) -> str | None:
    """Advice to run in bf16, for a CPU detector left on f32 on a CPU that computes bf16.

    Returns:
        The message to log, or None when the detector runs on a GPU, already asks for bf16
        (or OpenVINO's ``auto``), or the CPU has no native bf16.
    """
    native = [flag for flag in BF16_FLAGS if flag in flags]
    if not native or config.providers != ["cpu"]:
        return None
    if config.runtime == "openvino" and config.openvino_precision != "f32":
        return None
    return (
        f"this CPU computes bfloat16 natively ({', '.join(native)}): runtime: openvino with "
        "openvino_precision: bf16 runs the network about 1.8x faster than f32 on such a CPU, "
        "with the same mAP50 on the shared set (docs/models.md); it needs the openvino "
        "extra: pip install '.[openvino]'"
    )


def log_bf16_hint(config: DetectorConfig) -> None:
    """Log :func:`bf16_hint` for this machine's CPU, if there is one."""
    hint = bf16_hint(config, cpu_flags())
    if hint is not None:
        logger.info(hint)
