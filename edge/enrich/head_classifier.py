"""The head classifier: a second look at each head the head detector found.

The full-frame head detector sees a distant rider's head as a few pixels of its 448-px input
and tells helmets from hair badly on cameras it was not trained on. Where a camera asks for it
(the helmet rule's ``classifier``), the helmet enricher keeps the detector's boxes (where the
heads are) and asks this classifier whether each is bare, from a crop of the camera frame at
its own resolution (:func:`edge.enrich.head_crops.crop_heads`). The network is the bundled
``vn-head-classifier.onnx`` (trained by :mod:`models.head_classifier`) or any ONNX file with
the same input and output. It is off by default: the model card
(``models/weights/MODEL_CARD.md``) gives its figures and the coloured helmets it called bare
on a camera it never saw.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edge.detections import Detections
from edge.detector.resolve import BUNDLED_MODELS_DIR
from edge.enrich.head_crops import CONTEXT, CROP_SIZE, crop_heads
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

BUNDLED_NAME = "vn-head-classifier"
BUNDLED = BUNDLED_MODELS_DIR / f"{BUNDLED_NAME}.onnx"
"""The bundled classifier (the helmet rule's ``classifier: vn-head-classifier``, off by default)."""
HEAD_CLASSIFIER = "head_classifier"
"""Key of an injected classifier in ``RuleSetup.services`` (tests, shared instances)."""
BATCH = 64
"""Crops per network call (a dense frame has a few dozen heads)."""


class HeadClassifierError(UserFacingError):
    """The classifier file is missing or is not a head classifier."""


class HeadClassifier:
    """Probability that each head is bare, from crops of the frame.

    Example:
        >>> classifier = HeadClassifier(BUNDLED)
        >>> classifier.bare_probability(frame, heads.xyxy)
        array([0.93, 0.04], dtype=float32)
    """

    def __init__(self, model: Path) -> None:
        """Load the ONNX file and read its crop geometry from the metadata.

        Raises:
            HeadClassifierError: The file is missing, unreadable, or its outputs are not
                ``head_no_helmet`` / ``head_helmet`` probabilities.
        """
        if not model.is_file():
            raise HeadClassifierError(f"head classifier {model} does not exist")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # crops are tiny; leave the cores to the detector
        try:
            self.session = ort.InferenceSession(
                str(model), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises several unrelated exception types
            raise HeadClassifierError(f"head classifier {model}: {exc}") from exc
        meta = self.session.get_modelmeta().custom_metadata_map
        names = tuple(meta.get("names", "").split(","))
        if names != ("head_no_helmet", "head_helmet"):
            raise HeadClassifierError(
                f"head classifier {model}: outputs {names}, expected head_no_helmet,head_helmet"
            )
        self.crop_size = int(meta.get("crop_size", CROP_SIZE))
        self.context = float(meta.get("context", CONTEXT))
        self.input_name = self.session.get_inputs()[0].name
        logger.info("head classifier %s: %d px crops", model.name, self.crop_size)

    def bare_probability(
        self, image: np.ndarray[Any, Any], xyxy: npt.ArrayLike
    ) -> npt.NDArray[np.float32]:
        """Probability of a bare head for each box ``[x1, y1, x2, y2]`` of the BGR frame."""
        crops = crop_heads(image, xyxy, self.crop_size, self.context)
        if len(crops) == 0:
            return np.empty(0, dtype=np.float32)
        tensor = crops.transpose(0, 3, 1, 2).astype(np.float32) / 255
        out = [
            self.session.run(None, {self.input_name: tensor[i : i + BATCH]})[0][:, 0]
            for i in range(0, len(tensor), BATCH)
        ]
        return np.concatenate(out).astype(np.float32)


def resolve_classifier(model: Path) -> Path:
    """The file of a configured classifier: the bundled one by name, else the path."""
    return BUNDLED if str(model) == BUNDLED_NAME and not model.exists() else model


def relabel_heads(
    heads: Detections, bare_probability: npt.ArrayLike, bare_id: int, helmet_id: int
) -> Detections:
    """The same head boxes with the classifier's verdict as class and score.

    Each head becomes bare when the classifier says so (probability ≥ 0.5), helmet
    otherwise; its score becomes the detector's score (a head is there) times the
    classifier's probability of the verdict.
    """
    p_bare = np.asarray(bare_probability, dtype=np.float32)
    bare = p_bare >= 0.5
    class_id = np.where(bare, bare_id, helmet_id).astype(heads.class_id.dtype)
    sure = np.where(bare, p_bare, 1 - p_bare)
    confidence = (heads.confidence * sure).astype(heads.confidence.dtype)
    return Detections(heads.xyxy, confidence, class_id, heads.tracker_id, dict(heads.data))
