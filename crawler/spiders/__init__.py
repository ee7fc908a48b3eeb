"""Spiders of the healthdex crawler."""
