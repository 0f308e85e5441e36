"""bloomz-sync: the admin CLI and the standard roster contract shared by the taps and the target."""
