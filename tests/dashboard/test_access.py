"""Each role reaches exactly its pages, full and HTMX partial alike; anonymous users log in first."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inventory_hub.core import roles
from inventory_hub.inventory import services
from inventory_hub.inventory.rules import RuleValues
from tests.factories import ConnectorFactory, PoolFactory, UserFactory

pytestmark = pytest.mark.django_db

FM, OPS, ADMIN = roles.FULFILLMENT_MANAGER, roles.OPS_LEAD, roles.ADMIN


@pytest.fixture
def objects():
    rule = services.allocation_rule_create(
        pool=PoolFactory(), channel=None, values=RuleValues(), author=UserFactory(), reason="Start"
    )
    return {"rule": rule.pk, "connector": ConnectorFactory().pk}


# (url name, url kwargs from objects, method, HX-Target or None, roles allowed)
PAGES = [
    ("dashboard:home", {}, "get", None, {FM, OPS, ADMIN}),
    ("dashboard:home", {}, "get", "connector-state", {FM, OPS, ADMIN}),
    ("dashboard:rule-list", {}, "get", None, {FM, OPS, ADMIN}),
    ("dashboard:rule-detail", {"rule_id": "rule"}, "get", None, {FM, OPS, ADMIN}),
    ("dashboard:rule-edit", {"rule_id": "rule"}, "get", None, {OPS, ADMIN}),
    ("dashboard:rule-edit", {"rule_id": "rule"}, "get", "rule-form", {OPS, ADMIN}),
    ("dashboard:rule-edit", {"rule_id": "rule"}, "post", "rule-form", {OPS, ADMIN}),
    ("dashboard:connector-list", {}, "get", None, {ADMIN}),
    ("dashboard:connector-list", {}, "get", "connector-table", {ADMIN}),
    ("dashboard:connector-toggle", {"connector_id": "connector"}, "post", "connector-table", {ADMIN}),
]


def _request(client, page, objects):
    name, kwargs, method, target, _ = page
    url = reverse(name, kwargs={k: objects[v] for k, v in kwargs.items()})
    headers = {"HX-Request": "true", "HX-Target": target} if target else {}
    return getattr(client, method)(url, headers=headers)


@pytest.mark.parametrize("role", [FM, OPS, ADMIN])
@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p[2]}-{p[0]}-{p[3] or 'page'}")
def test_role_reaches_exactly_its_pages(role_client, objects, role, page):
    response = _request(role_client(role), page, objects)

    if role in page[4]:
        assert response.status_code in (200, 422)
    else:
        assert response.status_code == 403


def test_refused_partials_change_nothing(role_client, objects):
    from inventory_hub.connectors.models import Connector

    _request(role_client(OPS), PAGES[-1], objects)  # toggle connector as ops lead

    assert Connector.objects.get(pk=objects["connector"]).enabled is True


@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p[2]}-{p[0]}-{p[3] or 'page'}")
def test_anonymous_users_are_sent_to_log_in(role_client, objects, page):
    response = _request(role_client(None), page, objects)

    if page[3]:  # HTMX: a redirect htmx would follow into the partial; tell it to reload instead
        assert response.status_code == 401
        assert response["HX-Redirect"].startswith(reverse("login"))
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_partial_request_returns_only_the_partial(role_client):
    response = role_client(FM).get(
        reverse("dashboard:home"), headers={"HX-Request": "true", "HX-Target": "connector-state"}
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="connector-state"')
    assert "<html" not in html
    assert "HX-Target" in response["Vary"]


def test_navigation_shows_each_role_only_what_it_may_use(role_client):
    pages = {role: role_client(role).get(reverse("dashboard:home")).content.decode() for role in (FM, OPS, ADMIN)}

    connectors_link = f'href="{reverse("dashboard:connector-list")}"'
    assert connectors_link not in pages[FM]
    assert connectors_link not in pages[OPS]
    assert connectors_link in pages[ADMIN]
