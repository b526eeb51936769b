"""Services of the aggregator that run where events are committed (alerting)."""
