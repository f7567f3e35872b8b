"""Property-based fuzzing of the node's API from its own OpenAPI description (Schemathesis).

Schemathesis reads ``/openapi.json`` from the app in-process (ASGI, no socket) and generates
requests for every operation, valid and invalid alike. The public operations (tag ``public``,
and the health route) must never answer 500 and never answer with a body, status or content
type their description does not allow. The tier API (tag ``tier``) is fuzzed without
credentials: every request is refused with 401 or 403, never a 500, never anything else (its
authentication comes before its body is read: docs/security.md).

Examples are bounded per operation (:data:`EXAMPLES`) so the whole file runs in seconds; the
node is the seeded city of :mod:`tests.support.node` with the rate limit opened wide, so that
generated requests reach the routes instead of the 429 page.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, Case, CheckFunction, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err
from schemathesis.openapi import from_asgi

from receipts.node.app import create_app
from receipts.node.config import RateLimit
from tests.support.node import node_state, seeded_city

Operation = APIOperation[Any, Any, Any, Any]

EXAMPLES = 60
"""Generated requests per operation: enough to reach each route's refusals, bounded in time."""

_WIDE_OPEN = RateLimit(per_minute=1e9, burst=100_000)
"""No 429 in the way of the fuzzer (the limiter has its own tests)."""

# The tier API's bodies are bytes (a zip package): sent as generated, like octet-stream.
schemathesis.serializer.alias(["application/zip"], "application/octet-stream")


@pytest.fixture(scope="module")
def node_schema(tmp_path_factory: pytest.TempPathFactory) -> BaseSchema:
    """The node's OpenAPI description, served by its app over the seeded city."""
    city = seeded_city(tmp_path_factory.mktemp("fuzz"))
    state = node_state(city, rate=_WIDE_OPEN, access_log=str(Path(city.home, "logs", "a.jsonl")))
    return from_asgi("/openapi.json", create_app(state))


_FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same requests every run: the expected failures below stay failing
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the failure's curl line says enough
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _operations(schema: BaseSchema, tag: str) -> list[Operation]:
    """The operations tagged ``tag`` (the health route counts as public)."""
    found = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        tags = operation.tags or ["public"]
        if tag in tags or (tag == "public" and "operations" in tags):
            found.append(operation)
    return found


# Schemathesis's own pytest integration (``from_fixture(...).parametrize()``) does not run under
# pytest 9 (it reads a private attribute pytest removed), so each operation is fuzzed by a plain
# Hypothesis test built from the operation's strategies.


def _cases(operation: Operation) -> st.SearchStrategy[Case[Operation]]:
    """Valid and invalid requests of ``operation`` alike."""
    return st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )


def _fuzz_each(operations: list[Operation], check: Callable[[Case[Operation]], None]) -> None:
    """Run ``check`` on :data:`EXAMPLES` generated requests of each operation."""
    for operation in operations:

        @_FUZZ
        @given(case=_cases(operation))
        def fuzz(case: Case[Operation]) -> None:
            check(case)

        fuzz()


def _validated(case: Case[Operation], checks: list[CheckFunction]) -> None:
    case.call_and_validate(checks=checks)


def _answers_below_500(case: Case[Operation]) -> None:
    response = case.call()
    assert response.status_code < 500, (
        f"{case.as_curl_command()}\n-> {response.status_code} {response.text[:300]}"
    )


def test_public_api_answers_within_its_description(node_schema: BaseSchema) -> None:
    """No 500; every answer's status, media type and body as the description says."""
    operations = _operations(node_schema, "public")
    assert {op.path for op in operations} >= {"/healthz", "/api/v1/lookup"}
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    _fuzz_each(operations, lambda case: _validated(case, checks))


def test_tier_api_never_fails_on_unauthenticated_requests(node_schema: BaseSchema) -> None:
    operations = _operations(node_schema, "tier")
    assert operations, "the tier API is not in the OpenAPI description"
    _fuzz_each(operations, _answers_below_500)


def _refused(case: Case[Operation]) -> None:
    response = case.call()
    assert response.status_code in (401, 403), (
        f"{case.as_curl_command()}\n-> {response.status_code} {response.text[:300]}"
    )


def test_tier_api_refuses_every_unauthenticated_request(node_schema: BaseSchema) -> None:
    _fuzz_each(_operations(node_schema, "tier"), _refused)
