"""The aggregator's MQTT ingestion: shared subscription, validation, idempotent storage."""

from cloud.ingest.config import IngestConfig
from cloud.ingest.consumer import IngestMetrics, Ingestor
from cloud.ingest.validate import classify

__all__ = ["IngestConfig", "IngestMetrics", "Ingestor", "classify"]
