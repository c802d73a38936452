"""Checks of meaning over a validated config; every problem names its YAML key path."""
