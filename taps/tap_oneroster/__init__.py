"""tap-oneroster: OneRoster 1.1/1.2 REST and CSV bundles as the standard roster streams."""
