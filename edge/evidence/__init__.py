"""Evidence images for alerts: a bounded JPEG snapshot and crop, privacy-blurred by default."""

from edge.evidence.writer import EvidenceConfig, EvidenceWriter

__all__ = ["EvidenceConfig", "EvidenceWriter"]
