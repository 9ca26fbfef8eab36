"""Every /api/v1/ URL pattern × every method it allows × every role: allowed or refused exactly as
the matrix says. A new endpoint missing from the matrix fails the first test."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from inventory_hub.core import roles

ANONYMOUS, MANAGER, OPS, ADMIN = None, roles.FULFILLMENT_MANAGER, roles.OPS_LEAD, roles.ADMIN
ACTORS = (ANONYMOUS, MANAGER, OPS, ADMIN)  # each can do all the one before it can
RANK = {actor: rank for rank, actor in enumerate(ACTORS)}

# URL name → {method: the least role allowed}. Methods not listed are refused to everyone.
MATRIX: dict[str, dict[str, str | None]] = {
    "api-root": {"GET": MANAGER},
    "schema": {"GET": MANAGER},
    "docs": {"GET": MANAGER},
    "token": {"POST": ANONYMOUS},
    "location-list": {"GET": MANAGER},
    "location-detail": {"GET": MANAGER},
    "connector-list": {"GET": MANAGER},
    "connector-detail": {"GET": MANAGER},
    "position-list": {"GET": MANAGER},
    "position-detail": {"GET": MANAGER},
    "discrepancy-list": {"GET": MANAGER},
    "discrepancy-detail": {"GET": MANAGER},
    "discrepancy-acknowledge": {"POST": MANAGER},
    "oversell-list": {"GET": MANAGER},
    "oversell-detail": {"GET": MANAGER},
    "hop-lags": {"GET": MANAGER},
    "expected-atp": {"GET": MANAGER},
    "pool-list": {"GET": MANAGER, "POST": OPS},
    "pool-detail": {"GET": MANAGER, "PUT": OPS, "PATCH": OPS, "DELETE": OPS},
    "pool-boundary-list": {"GET": MANAGER, "POST": OPS},
    "pool-boundary-detail": {"GET": MANAGER, "PUT": OPS, "PATCH": OPS, "DELETE": OPS},
    "allocation-rule-list": {"GET": MANAGER, "POST": OPS},
    "allocation-rule-detail": {"GET": MANAGER},
    "allocation-rule-versions": {"POST": OPS},
}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _api_url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and namespace == "api":
                names.add(pattern.name)

    walk(get_resolver().url_patterns, None)
    return names


def test_every_api_url_pattern_is_in_the_matrix():
    names = _api_url_names()

    assert names, "no /api/v1/ URL patterns found"
    assert names - set(MATRIX) == set(), "add these endpoints to MATRIX with the role each method needs"
    assert set(MATRIX) - names == set(), "the matrix lists endpoints that no longer exist"


def _url(name, retailer):
    detail_objects = {
        "location-detail": retailer["location"],
        "connector-detail": retailer["connectors"]["wms"],
        "position-detail": _position(retailer),
        "discrepancy-detail": retailer["discrepancy"],
        "discrepancy-acknowledge": retailer["discrepancy"],
        "oversell-detail": retailer["oversell"],
        "pool-detail": retailer["pool"],
        "pool-boundary-detail": retailer["boundary"],
        "allocation-rule-detail": retailer["rule"],
        "allocation-rule-versions": retailer["rule"],
    }
    obj = detail_objects.get(name)
    url = reverse(f"api:{name}", args=[obj.pk] if obj is not None else [])
    return url + (f"?location={retailer['location'].pk}" if name == "expected-atp" else "")


def _position(retailer):
    from inventory_hub.observations.models import InventoryPosition

    return InventoryPosition.objects.filter(location=retailer["location"]).first()


def _methods(name: str) -> list[str]:
    """What to try: every write method on endpoints that read, and GET on write-only actions."""
    allowed = MATRIX[name]
    return sorted({"GET", *WRITE_METHODS} if "GET" in allowed else {*allowed, "GET"})


def _expected(name: str, method: str, actor: str | None) -> set[int] | None:
    """The statuses a refusal may have, or None when the actor is allowed (anything but 401/403/302)."""
    least = MATRIX[name].get(method, "nobody")
    if least != "nobody" and RANK[actor] >= RANK[least]:
        return None
    if actor is ANONYMOUS:
        # The API answers 401 with a Token challenge; the docs page (for people) sends them to log
        # in; the token exchange is open to anyone, so it only lacks the method.
        return {{"docs": 302, "token": 405}.get(name, 401)}
    # 403 without the permission; 405 where the role has it but the endpoint lacks the method.
    return {403, 405}


# One test per actor (the fixture data is built once for all its requests).
@pytest.mark.parametrize("actor", ACTORS, ids=["anonymous", "manager", "ops-lead", "admin"])
def test_each_role_is_allowed_or_refused_as_the_matrix_says(role_client, retailer, actor):
    client = role_client(actor)
    wrong = []
    for name in sorted(MATRIX):
        for method in _methods(name):
            response = client.generic(method, _url(name, retailer), data="{}", content_type="application/json")
            refusals = _expected(name, method, actor)
            if refusals is None and response.status_code in (401, 403, 302):
                wrong.append(f"{method} {name}: refused ({response.status_code}) but the matrix allows it")
            elif refusals is not None and response.status_code not in refusals:
                wrong.append(f"{method} {name}: {response.status_code}, expected {sorted(refusals)}")

    assert wrong == []
