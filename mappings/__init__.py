"""Default mapping files per source and district examples (data files)."""
