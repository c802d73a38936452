"""Reusable Pulumi component resources for the hybrid ML platform."""
