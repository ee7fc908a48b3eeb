"""Downloader middlewares of the healthdex crawler, one per module."""
