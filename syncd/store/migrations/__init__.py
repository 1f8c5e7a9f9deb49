"""Alembic migrations for syncd's schema; they ship with the package and run on start."""
