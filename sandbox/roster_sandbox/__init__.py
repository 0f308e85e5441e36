"""roster-sandbox: a local Clever v3 and OneRoster server for tests, demos and benchmarks."""
