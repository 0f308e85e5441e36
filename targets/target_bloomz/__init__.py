"""target-bloomz: the standard roster streams into the Bloomz store."""
