"""Citizen reports: text understanding, camera correlation and the automatic reply.

Self-contained modules that the aggregator API mounts later:

- :mod:`cloud.reports.normalize`: Vietnamese/English text normalisation and language guess.
- :mod:`cloud.reports.classify`: category, urgency and emergency detection.
- :mod:`cloud.reports.correlate`: cameras near a report and their recent matching events.
- :mod:`cloud.reports.compose`: the reply text, every camera claim citing a stored event id.
"""
