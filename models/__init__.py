"""Export, quantisation, evaluation and training of detectors (not on the edge hot path)."""
