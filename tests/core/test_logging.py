from __future__ import annotations

import logging

import pytest

from inventory_hub.core.logging import RedactSecretsFilter, redact


@pytest.mark.parametrize(
    "line",
    [
        "GET /admin/api/graphql.json headers={'X-Shopify-Access-Token': 'shpat_CANARY'}",
        "Authorization: token CANARYKEY:CANARYSECRET",
        "Authorization: Bearer CANARY.jwt.value",
        "POST /oauth/token body=refresh_token=CANARY&grant_type=refresh",
        '{"api_key": "CANARY", "api_secret": "CANARY"}',
    ],
)
def test_credentials_never_reach_a_log_line(line):
    assert "CANARY" not in redact(line)
    assert "[redacted]" in redact(line)


def test_the_filter_rewrites_formatted_messages():
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "upstream said %s", ("Authorization: token K:S",), None
    )

    RedactSecretsFilter().filter(record)

    assert record.getMessage() == "upstream said Authorization: token [redacted]"
