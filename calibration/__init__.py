"""Camera geometry: image pixels to road-plane metres."""
