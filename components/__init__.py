"""ComponentResources and pure planning helpers of the platform program."""
