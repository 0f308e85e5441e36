"""tap-clever: Clever Data API v3 as the standard roster streams."""
