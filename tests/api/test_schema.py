"""The OpenAPI schema is valid, and schemathesis, generating requests from it in-process, finds no
failure of any of its checks on any operation, for each role."""

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

from inventory_hub.core import roles
from inventory_hub.wsgi import application
from tests.factories import UserFactory


def test_spectacular_validates_the_schema_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert "/api/v1/expected-atp/" in (tmp_path / "schema.yaml").read_text()


@pytest.fixture
def token(role, retailer) -> str:
    return Token.objects.create(user=UserFactory(username="schemathesis", role=role)).key


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


def _config(*, coverage: bool) -> schemathesis.Config:
    """The one place the checks are configured: every built-in check runs, for every role."""
    return schemathesis.Config.from_dict(
        {
            "checks": {"enabled": True},
            # The coverage phase (boundary values, missing and wrong-typed parameters, other methods)
            # for the roles whose requests get past the permission check to every validation.
            "phases": {"coverage": {"enabled": coverage}},
            "operations": [
                {
                    # A well-formed body can still be refused: the schema cannot say which ids exist,
                    # which pool codes are taken, which username has which password, or the
                    # cross-field rules (a channel pool needs its channel, shares stay within 100 %).
                    # That is a 400 with field errors, not a bug.
                    "include-method": ["POST", "PUT", "PATCH"],
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "429"]
                        }
                    },
                }
            ],
        }
    )


SCHEMA = _generated_schema()


def _every_check_passes_for(role: str, *, max_examples: int, coverage: bool):
    """A test of every operation as a user of this role: one schemathesis session per role."""
    role_schema = schemathesis.openapi.from_dict(SCHEMA, config=_config(coverage=coverage))
    role_schema.app = application  # requests go to the WSGI app in-process, no server

    @role_schema.parametrize()
    @settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,  # the same examples every run: a failure here is reproducible, not flaky
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @pytest.mark.parametrize("role", [role])
    @pytest.mark.usefixtures("_unthrottled", "_keep_test_connection")
    def test(case, token):
        case.call_and_validate(headers={"Authorization": f"Token {token}"})

    return test


# An ops lead may do every write the API offers, as an admin may: the admin session is the thorough
# one. A fulfillment manager's writes (but acknowledging) stop at the permission check with a 403,
# and every role's reads run the same code, so the other two sessions are shorter.
test_every_check_passes_for_an_admin = _every_check_passes_for(roles.ADMIN, max_examples=10, coverage=True)
test_every_check_passes_for_an_ops_lead = _every_check_passes_for(roles.OPS_LEAD, max_examples=5, coverage=True)
test_every_check_passes_for_a_fulfillment_manager = _every_check_passes_for(
    roles.FULFILLMENT_MANAGER, max_examples=5, coverage=False
)
