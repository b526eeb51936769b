"""The camera box: ingest, detection, tracking, rules, privacy, publishing."""
