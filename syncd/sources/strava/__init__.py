"""Strava's glue: the clinic's shared read budget, the webhook callback and its commands."""
