"""Tests of the per-source hooks and their registry."""
