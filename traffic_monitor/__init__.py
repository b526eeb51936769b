"""traffic-monitor: edge video analytics for road-traffic safety."""

__version__ = "0.1.0"
