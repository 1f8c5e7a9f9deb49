"""Garmin's glue: token folders kept in the database, and its commands."""
