"""Privacy by default: blur heads and number plates before any image leaves the rule engine."""

from edge.privacy.blur import blur_regions, privacy_regions

__all__ = ["blur_regions", "privacy_regions"]
