"""Item pipelines of the healthdex crawler, one per module."""
