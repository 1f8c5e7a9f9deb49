"""The Garmin connector and its glue, tested against a fake Garmin Connect on 127.0.0.1."""
