"""Citizen reports: text understanding, camera correlation, the automatic reply, the intake.

The aggregator (:func:`cloud.api.create_app`) mounts the Open311 router at ``/open311/v2`` and
the operators' side at ``/api/reports``:

- :mod:`cloud.reports.normalize`: Vietnamese/English text normalisation and language guess.
- :mod:`cloud.reports.classify`: category, urgency and emergency detection.
- :mod:`cloud.reports.correlate`: cameras near a report and their recent matching events.
- :mod:`cloud.reports.compose`: the reply text, every camera claim citing a stored event id.
- :mod:`cloud.reports.directory`: camera positions from the store, cached.
- :mod:`cloud.services.reports`: validation, limits, duplicates, storage, operator changes.
- :mod:`cloud.reports.photos`: photo checks, re-encoding, GPS kept only with consent.
- :mod:`cloud.reports.router`: the Open311 GeoReport v2 endpoints.
"""
