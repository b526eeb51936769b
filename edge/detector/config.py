"""Detector configuration (pydantic, refused at load with the field named)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ProviderName = Literal["cpu", "cuda", "tensorrt", "openvino"]


class DetectorConfig(BaseModel):
    """How to load and run the detector, and which detections to keep."""

    model_config = ConfigDict(extra="forbid")

    model: Path | None = Field(
        default=None,
        description=(
            "Path to an Ultralytics YOLO detection export in ONNX, or a bundled model name "
            "(vn-vehicles: Vietnamese road users, motorbike boxed with its rider). Empty: the "
            "TRAFFIC_MONITOR_MODEL environment setting, else ../shared/models/yolov8n.onnx. "
            "A .pt checkpoint is exported to ONNX first (needs the `models` extra)."
        ),
    )
    confidence: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="Minimum class score. Lower finds more distant road users and more false ones.",
    )
    iou: float = Field(
        default=0.45,
        gt=0.0,
        le=1.0,
        description=(
            "IoU above which a lower-scored box of the same class is suppressed. Higher keeps "
            "more boxes in dense traffic, at the risk of duplicates."
        ),
    )
    classes: list[str] | None = Field(
        default=None,
        description="Class names to keep (e.g. [car, motorcycle]); empty keeps every class.",
    )
    min_box_size: float = Field(
        default=0.0,
        ge=0.0,
        description="Minimum box width and height in frame pixels; smaller ones are dropped.",
    )
    max_detections: int = Field(
        default=300, ge=1, le=10000, description="Maximum detections kept per frame after NMS."
    )
    providers: list[ProviderName] = Field(
        default_factory=lambda: list[ProviderName](["cpu"]),
        min_length=1,
        description=(
            "ONNX Runtime execution providers in order of preference: cpu, cuda, tensorrt "
            "(FP16), openvino. Asking for one that is not installed fails at start-up."
        ),
    )
    intra_op_threads: int = Field(
        default=0,
        ge=0,
        description="Threads inside one operator (0: ONNX Runtime's default, one per core).",
    )
    inter_op_threads: int = Field(
        default=0, ge=0, description="Threads across operators (0: ONNX Runtime's default)."
    )
    device_id: int = Field(default=0, ge=0, description="GPU index for cuda / tensorrt.")
    tensorrt_fp16: bool = Field(default=True, description="Let TensorRT run in FP16.")
    tensorrt_cache_dir: Path | None = Field(
        default=None,
        description="Where TensorRT keeps built engines (start-up takes minutes without a cache).",
    )
