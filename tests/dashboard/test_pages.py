from __future__ import annotations

import pytest
from django.urls import reverse

from inventory_hub.connectors import services as connector_services
from inventory_hub.inventory import services
from inventory_hub.inventory.rules import RuleValues
from tests.factories import ChannelFactory, ConnectorFactory, LocationFactory, PoolFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule():
    return services.allocation_rule_create(
        pool=PoolFactory(name="Web ship-from FC"),
        channel=ChannelFactory(name="Web"),
        values=RuleValues(safety_stock=5, channel_share_percent=60),
        author=UserFactory(username="olivia"),
        reason="Initial",
    )


def _form(**values):
    data = {
        "safety_stock": 5,
        "channel_share_percent": 60,
        "channel_priority": 1,
        "pickup_reservation": 0,
        "reason": "",
    }
    data.update(values)
    return data


def test_ops_lead_edits_a_rule_and_sees_the_history_entry(ops_client, rule):
    url = reverse("dashboard:rule-edit", args=[rule.pk])

    response = ops_client.post(url, _form(safety_stock=8, reason="Shrinkage at Store B"), follow=True)

    html = response.content.decode()
    assert rule.versions.count() == 2
    assert "Version 2" in html
    assert "by opslead" in html
    assert "Shrinkage at Store B" in html


def test_htmx_save_redirects_the_browser_to_the_edit_page(ops_client, rule):
    url = reverse("dashboard:rule-edit", args=[rule.pk])

    response = ops_client.post(
        url, _form(safety_stock=9, reason="Buffer"), headers={"HX-Request": "true", "HX-Target": "rule-form"}
    )

    assert response["HX-Redirect"] == url
    assert rule.versions.count() == 2


def test_an_impossible_rule_is_refused_inline_and_nothing_is_saved(ops_client, rule):
    url = reverse("dashboard:rule-edit", args=[rule.pk])

    response = ops_client.post(
        url, _form(channel_share_percent=140, reason="Oops"), headers={"HX-Request": "true", "HX-Target": "rule-form"}
    )

    html = response.content.decode()
    assert response.status_code == 422
    assert html.lstrip().startswith('<section class="card" id="rule-form"')
    assert "Ensure this value is less than or equal to 100" in html
    assert rule.versions.count() == 1


def test_home_lists_locations_in_their_time_zone_and_connectors_with_their_state(manager_client):
    LocationFactory(code="STORE-B", name="Store B", time_zone="Europe/Berlin")
    failing = ConnectorFactory(name="ShipHero WMS")
    run = connector_services.poll_run_claim(connector_id=failing.pk)
    connector_services.poll_run_fail(run=run, error="ShipHero timed out after 30 s", permanent=False)

    html = manager_client.get(reverse("dashboard:home")).content.decode()

    assert "STORE-B" in html
    assert "Europe/Berlin" in html
    assert "CET" in html or "CEST" in html  # local time shown in the location's zone
    assert "ShipHero WMS" in html
    assert "Failing" in html
    assert "ShipHero timed out after 30 s" in html


def test_empty_home_says_what_to_do(manager_client):
    html = manager_client.get(reverse("dashboard:home")).content.decode()

    assert "No locations yet" in html
    assert "No connectors yet" in html


def test_admin_disables_a_connector_with_a_reason(admin_role_client):
    connector = ConnectorFactory()

    admin_role_client.post(reverse("dashboard:connector-toggle", args=[connector.pk]), {"reason": "Vendor maintenance"})

    connector.refresh_from_db()
    assert (connector.enabled, connector.disabled_reason) == (False, "Vendor maintenance")
