"""Detector configuration (pydantic, refused at load with the field named)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from edge.detector.tiling import TilingConfig

ProviderName = Literal["cpu", "cuda", "tensorrt", "openvino"]
RuntimeName = Literal["onnxruntime", "openvino", "torch"]
OpenVinoPrecision = Literal["f32", "bf16", "f16", "auto"]
TorchCompileMode = Literal["off", "default", "reduce-overhead", "max-autotune"]
TORCH_DEVICE_PATTERN = r"^(cpu|cuda(:[0-9]+)?)$"


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
        description=(
            "Class names to keep (e.g. [car, motorcycle]); [all] keeps every class of the "
            "model. Empty: the road users the model has (person, bicycle, car, motorcycle, "
            "bus, truck; no benches, boats or trains), or every class of a model with none "
            "of them (the helmet model)."
        ),
    )
    min_box_size: float = Field(
        default=0.0,
        ge=0.0,
        description="Minimum box width and height in frame pixels; smaller ones are dropped.",
    )
    max_detections: int = Field(
        default=300, ge=1, le=10000, description="Maximum detections kept per frame after NMS."
    )
    runtime: RuntimeName = Field(
        default="onnxruntime",
        description=(
            "Inference runtime for the ONNX file: onnxruntime (every provider below, CPU and "
            "GPU) or openvino (the OpenVINO CPU runtime read natively from the same ONNX file, "
            "no conversion; needs the openvino extra: pip install '.[openvino]'), or torch (the "
            "same ONNX file converted to a PyTorch module at load, on the CPU or a CUDA GPU "
            "chosen by device, with letterbox and NMS on that device; needs the torch extra: "
            "pip install '.[torch]'). Decoding, NMS and the class filter give the same "
            "detections on all three."
        ),
    )
    device: str = Field(
        default="cpu",
        pattern=TORCH_DEVICE_PATTERN,
        description=(
            "Where runtime: torch runs: cpu, cuda (the current GPU) or cuda:N. A CUDA device "
            "that PyTorch does not see fails at start-up. Only used with runtime: torch "
            "(ONNX Runtime's GPU is chosen by providers and device_id)."
        ),
    )
    torch_half: bool = Field(
        default=True,
        description=(
            "Run the network in FP16 on a CUDA device (about twice the throughput of FP32 on "
            "tensor cores; scores move by about 1e-3, see docs/models.md). Ignored on the CPU, "
            "which runs FP32. Only used with runtime: torch."
        ),
    )
    torch_compile: TorchCompileMode = Field(
        default="off",
        description=(
            "Compile the converted network with torch.compile in this mode (reduce-overhead "
            "adds CUDA graphs). Compiling takes tens of seconds per input shape at start-up and "
            "pays only where the network call is short against Python's launch overhead "
            "(small models, small batches on a GPU). Off: eager PyTorch. Only used with "
            "runtime: torch."
        ),
    )
    openvino_precision: OpenVinoPrecision = Field(
        default="f32",
        description=(
            "Arithmetic of the openvino runtime: f32 is the same arithmetic as ONNX Runtime "
            "(identical detections); bf16 (bfloat16, 8-bit mantissa) is faster on CPUs with "
            "AVX-512 BF16 or AMX, and moves scores and boxes slightly (a few percent of "
            "detections differ; measured 1.8x faster with the same mAP50 on an AMD Zen 5); "
            "f16 likewise where the CPU has FP16 units; auto is OpenVINO's default for this CPU "
            "(bf16 where available). A CPU without the requested precision runs f32 (logged "
            "at start-up). Only used with runtime: openvino."
        ),
    )
    openvino_fused_preprocess: bool = Field(
        default=True,
        description=(
            "Compile the step from the letterboxed uint8 BGR image to the network's float RGB "
            "input into the network (OpenVINO's PrePostProcessor) instead of running it in "
            "numpy: about 0.5 ms less per 640 x 640 frame; at f32 scores within 1e-5 and boxes "
            "within 0.01 pixel of the numpy blob's, at bf16 mAP50 within 0.4 point of f32 "
            "(docs/models.md). Only used with runtime: openvino."
        ),
    )
    providers: list[ProviderName] = Field(
        default_factory=lambda: list[ProviderName](["cpu"]),
        min_length=1,
        description=(
            "ONNX Runtime execution providers in order of preference: cpu, cuda, tensorrt "
            "(FP16), openvino (ONNX Runtime's OpenVINO execution provider, the "
            "onnxruntime-openvino wheel; not the openvino runtime above). Asking for one that is "
            "not installed fails at start-up. Only used with runtime: onnxruntime."
        ),
    )
    intra_op_threads: int = Field(
        default=0,
        ge=0,
        description=(
            "Threads inside one operator (0: the runtime's default, one per core); with "
            "runtime: openvino, the inference threads (INFERENCE_NUM_THREADS)."
        ),
    )
    inter_op_threads: int = Field(
        default=0,
        ge=0,
        description="Threads across operators (0: ONNX Runtime's default; onnxruntime only).",
    )
    fit_input: bool = Field(
        default=True,
        description=(
            "With a model whose input height and width are dynamic (models export --dynamic), "
            "fit each frame's input to its aspect ratio: the long side at the model's imgsz, "
            "the short side rounded up to the stride (640 x 384 for 854 x 480 frames), as "
            "Ultralytics does for such models; the same picture with less padding to compute. "
            "Off: the square imgsz. A fixed-size model always runs at its own size."
        ),
    )
    imgsz: int | None = Field(
        default=None,
        ge=32,
        description=(
            "Long side of the network input, per camera, for a dynamic-size model (models "
            "export --dynamic; the default model is one): 640, 960, 1280… Each frame is "
            "fitted to it (1024 x 576 frames at 1024: 1024 x 576, no padding). Larger finds "
            "more small and distant road users and costs about its area in time. Empty: the "
            "model's own size. A fixed-size model accepts only its own size."
        ),
    )
    tiles: TilingConfig | None = Field(
        default=None,
        description=(
            "Sliced inference: tiles cut from a region of the frame (the far field) detected "
            "beside the full frame in the same batch, detections merged (edge/detector/"
            "tiling.py). Empty: no tiles."
        ),
    )
    device_id: int = Field(default=0, ge=0, description="GPU index for cuda / tensorrt.")
    tensorrt_fp16: bool = Field(default=True, description="Let TensorRT run in FP16.")
    tensorrt_cache_dir: Path | None = Field(
        default=None,
        description="Where TensorRT keeps built engines (start-up takes minutes without a cache).",
    )

    @field_validator("providers")
    @classmethod
    def _providers_need_onnxruntime(
        cls, providers: list[ProviderName], info: ValidationInfo
    ) -> list[ProviderName]:
        """Refuse ONNX Runtime providers with the openvino runtime instead of ignoring them."""
        runtime = info.data.get("runtime")
        if runtime == "openvino" and providers != ["cpu"]:
            raise ValueError(
                f"{providers} are ONNX Runtime execution providers; with runtime: openvino "
                "leave providers at [cpu] (OpenVINO runs on the CPU), or use runtime: "
                "onnxruntime with providers: [openvino] for ONNX Runtime's OpenVINO "
                "execution provider"
            )
        if runtime == "torch" and providers != ["cpu"]:
            raise ValueError(
                f"{providers} are ONNX Runtime execution providers; with runtime: torch leave "
                "providers at [cpu] and choose the GPU with device (cuda:0)"
            )
        return providers

    @field_validator("device")
    @classmethod
    def _device_needs_torch(cls, device: str, info: ValidationInfo) -> str:
        """Refuse a GPU device on a runtime that would silently run on the CPU instead."""
        if device != "cpu" and info.data.get("runtime") != "torch":
            raise ValueError(
                f"device {device} is used by runtime: torch only; set runtime: torch, or run "
                "ONNX Runtime on the GPU with providers: [cuda] and device_id"
            )
        return device
