"""The OpenAPI schema is valid, and schemathesis, generating requests from it in-process, finds no
server error (and no response that breaks the schema) on any operation."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.renderers import JSONRenderer
from rest_framework.throttling import SimpleRateThrottle
from schemathesis.checks import not_a_server_error, response_schema_conformance

from inventory_hub.core import roles
from inventory_hub.wsgi import application
from tests.factories import UserFactory


def test_spectacular_validates_the_schema_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert "/api/v1/expected-atp/" in (tmp_path / "schema.yaml").read_text()


@pytest.fixture
def admin_token(retailer) -> str:
    return Token.objects.create(user=UserFactory(username="schemathesis", role=roles.ADMIN)).key


@pytest.fixture
def _keep_test_connection():
    # The WSGI handler closes the database connection after each request, as in production; in a
    # test that is the connection holding the test's transaction (Django's test client does the same).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def _unthrottled(monkeypatch):
    # Hundreds of generated calls a minute are the point here, not something to throttle.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "100000/minute", "user": "100000/minute"})


def _generated_schema() -> dict:
    """The schema the API serves at /api/v1/schema/, generated in-process (as JSON would carry it)."""
    return json.loads(JSONRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


schema = schemathesis.openapi.from_dict(_generated_schema())
schema.app = application  # requests go to the WSGI app in-process, no server


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure here is reproducible, not flaky
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@pytest.mark.usefixtures("_unthrottled", "_keep_test_connection")
def test_generated_requests_find_no_server_error(case, admin_token):
    response = case.call(headers={"Authorization": f"Token {admin_token}"})

    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
