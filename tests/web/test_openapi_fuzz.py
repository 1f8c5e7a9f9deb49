"""schemathesis against the OpenAPI description: generated requests to every operation get no
server error and answers that match the documented status codes, types and schemas."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from syncd.web import create_app

from .support import MakeApp

# Bounded: a few seconds for the whole API.
EXAMPLES = 25
# POST /pain refuses, with a 422 saying why, times the schema cannot express as invalid: in
# the future, or before 2000. Every other check runs, the "no server error" one included.


def test_no_server_error_and_answers_as_documented(make_app: MakeApp) -> None:
    # The in-process client names the host "testserver"; the Host guard must admit it.
    web = create_app(make_app('[server]\nallowed_hosts = ["testserver"]\n'))
    schema = schemathesis.openapi.from_asgi("/openapi.json", web)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == {
        "GET /healthz", "GET /status", "GET /alerts", "GET /weeks", "POST /pain",
        "GET /metrics", "POST /alerts/{alert_id}/ack", "GET /reports/monitoring"}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        check()
