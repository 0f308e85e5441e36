"""The standard roster stream schemas and the mapping-file schema (data files)."""
