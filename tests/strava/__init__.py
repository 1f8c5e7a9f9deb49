"""The Strava connector and its glue, tested against a fake Strava on 127.0.0.1."""
