"""The field client: the driver's offline workflow on the tablet."""
