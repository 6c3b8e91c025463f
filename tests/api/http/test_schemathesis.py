"""Property-based API tests: schemathesis over the app's own OpenAPI schema, every operation,
authenticated as ``demo``, against a real uvicorn. No answer may be a 5xx, and every answer must
match the schema the route declares (status code documented, body valid).

The operations are driven from inside one test with Hypothesis (rather than schemathesis' pytest
plugin, whose lazy fixture loader does not run on this pytest), each with its own bounded,
derandomised example budget, and every failure is collected before the test fails. Requests go
through httpx: ``requests`` does not work here beside the ``urllib3-future`` that caldav's
``niquests`` installs over ``urllib3``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, reject, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.http.conftest import Keys, LiveServer, auth

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.server]

#: Examples per operation: the model-backed routes cost seconds each on this CPU.
EXAMPLES = 6


def test_no_server_errors_and_valid_responses(live_server: LiveServer, keys: Keys) -> None:
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12, [op.label for op in operations]
    failures: dict[str, str] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,  # the same cases every run: a failure reproduces
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            kwargs = case.as_transport_kwargs(base_url=live_server.url, headers=auth(keys.demo))
            kwargs.pop("cookies", None)  # the API uses none; httpx deprecates them per request
            if isinstance(kwargs.get("data"), bytes | str):
                kwargs["content"] = kwargs.pop("data")
            try:  # a generated multipart body httpx cannot encode is the client's problem
                request = httpx.Request(**kwargs)
                request.read()  # encode the body now, not while sending
            except (TypeError, AttributeError, ValueError):
                reject()
            with httpx.Client(timeout=300) as client:
                response = client.send(request)
            case.validate_response(
                response,
                checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
            )

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            failures[operation.label] = f"{type(exc).__name__}: {str(exc)[:1500]}"
    assert not failures, "\n\n".join(f"{k}\n{v}" for k, v in failures.items())
