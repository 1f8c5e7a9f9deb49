"""Clinic mode on the real PostgreSQL server: many athletes, their sources and their alerts."""
