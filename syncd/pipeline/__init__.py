"""Sync, ingest and evaluation: what happens to activities between a source and the alerts."""
