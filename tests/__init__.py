"""The test suite of syncd: one package, so support modules are imported by their path
(``tests.support.clock``, ``tests.strava.fake_strava``) from the repository root."""
