"""Property-based run of schemathesis against our own OpenAPI spec: no 500s."""

import pytest
from hypothesis import HealthCheck, settings

from .conftest import make_app

schemathesis = pytest.importorskip("schemathesis")

schema = schemathesis.openapi.from_asgi("/openapi.json", make_app())


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.text)
    if response.status_code >= 400 and case.path != "/metrics":
        assert "error" in response.json()
