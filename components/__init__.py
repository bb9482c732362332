"""Reusable, region-agnostic Pulumi components of the burst platform."""
