"""The bloomz-sync admin console: the seeds' Bulk Import settings page as a web app over the same engine."""
