"""Open data: aggregated, privacy-safe statistics (CSV, JSON) with DCAT metadata."""

from cloud.opendata.export import (
    OpenDataQuery,
    aggregate,
    camera_sites,
    dcat_metadata,
    write_open_data,
)

__all__ = ["OpenDataQuery", "aggregate", "camera_sites", "dcat_metadata", "write_open_data"]
