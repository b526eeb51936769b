"""The aggregator: MQTT ingestion, storage, HTTP API, operations view, citizen reports."""
