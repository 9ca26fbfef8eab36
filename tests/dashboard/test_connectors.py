from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory_hub.connectors import services as connector_services
from inventory_hub.connectors.models import Connector, PollRun
from tests.factories import ConnectorFactory, PollRunFactory

pytestmark = pytest.mark.django_db

SEND_TASK = "inventory_hub.connectors.services.current_app.send_task"


def test_connectors_page_shows_health_and_recent_polls_with_few_queries(
    admin_role_client, django_assert_max_num_queries
):
    now = timezone.now()
    for n in range(5):
        connector = ConnectorFactory(name=f"System {n}")
        PollRunFactory(
            connector=connector,
            status=PollRun.Status.SUCCEEDED,
            started_at=now - dt.timedelta(minutes=n + 1),
            finished_at=now - dt.timedelta(minutes=n),
            positions_seen=1200 + n,
            positions_full_read=n % 2 == 0,
            positions_changed=7,
            events_new=3,
            orders_new=2,
        )
    failing = ConnectorFactory(name="Failing ERP", role="erp", adapter="erpnext")
    run = connector_services.poll_run_claim(connector_id=failing.pk)
    connector_services.poll_run_fail(run=run, error="ERPNext timed out after 30 s", permanent=False)
    admin_role_client.get(reverse("dashboard:connector-list"))

    with django_assert_max_num_queries(10):
        response = admin_role_client.get(reverse("dashboard:connector-list"))

    html = response.content.decode()
    assert html.count("Poll now</button>") == 6
    assert "Failing" in html
    assert "ERPNext timed out after 30 s" in html
    assert "1204" in html
    assert html.count('title="Incremental read: only positions changed since the previous read">Δ</abbr>') == 2


def test_poll_now_claims_the_connector_and_enqueues_its_poll_after_commit(
    admin_role_client, django_capture_on_commit_callbacks
):
    connector = ConnectorFactory(name="ShipHero")
    Connector.objects.filter(pk=connector.pk).update(next_poll_at=timezone.now() + dt.timedelta(hours=1))

    with mock.patch(SEND_TASK) as send_task, django_capture_on_commit_callbacks(execute=True):
        response = admin_role_client.post(
            reverse("dashboard:connector-poll", args=[connector.pk]),
            headers={"HX-Request": "true", "HX-Target": "connector-table"},
        )

    html = response.content.decode()
    send_task.assert_called_once_with(
        connector_services.POLL_TASK_NAME, args=[connector.pk], kwargs={"trigger": "manual"}
    )
    connector.refresh_from_db()
    assert connector.next_poll_at > timezone.now() + dt.timedelta(seconds=50)  # claimed: next is one interval on
    assert connector.next_poll_at < timezone.now() + dt.timedelta(seconds=61)
    assert html.lstrip().startswith('<div id="connector-table"')
    assert "ShipHero is queued for a poll now" in html


def test_a_disabled_connector_cannot_be_polled(admin_role_client, django_capture_on_commit_callbacks):
    connector = ConnectorFactory(name="ShipHero")
    connector_services.connector_disable(connector_id=connector.pk, reason="Vendor maintenance")

    with mock.patch(SEND_TASK) as send_task, django_capture_on_commit_callbacks(execute=True):
        response = admin_role_client.post(
            reverse("dashboard:connector-poll", args=[connector.pk]),
            headers={"HX-Request": "true", "HX-Target": "connector-table"},
        )

    assert response.status_code == 422
    assert "ShipHero is disabled, so it cannot be polled: enable it first." in response.content.decode()
    send_task.assert_not_called()
    connector.refresh_from_db()
    assert connector.next_poll_at is None


def test_the_poll_now_button_of_a_disabled_connector_is_disabled(admin_role_client):
    connector = ConnectorFactory(name="ShipHero")
    connector_services.connector_disable(connector_id=connector.pk, reason="Vendor maintenance")

    html = admin_role_client.get(reverse("dashboard:connector-list")).content.decode()

    assert 'disabled title="Enable the connector to poll it">Poll now</button>' in html


def test_enabling_a_connector_updates_the_table_with_a_notice(admin_role_client):
    connector = ConnectorFactory(name="ShipHero")
    connector_services.connector_disable(connector_id=connector.pk, reason="Vendor maintenance")

    response = admin_role_client.post(
        reverse("dashboard:connector-toggle", args=[connector.pk]),
        headers={"HX-Request": "true", "HX-Target": "connector-table"},
    )

    assert "ShipHero is enabled: it is polled as soon as a worker runs." in response.content.decode()
    connector.refresh_from_db()
    assert connector.enabled is True


@pytest.mark.parametrize("role", ["Fulfillment manager", "Ops lead"], ids=["manager", "ops_lead"])
def test_everyone_but_the_admin_is_refused(role_client, role):
    client = role_client(role)
    connector = ConnectorFactory()

    with mock.patch(SEND_TASK) as send_task:
        statuses = [
            client.get(reverse("dashboard:connector-list")).status_code,
            client.post(reverse("dashboard:connector-poll", args=[connector.pk])).status_code,
            client.post(reverse("dashboard:connector-toggle", args=[connector.pk])).status_code,
        ]

    assert statuses == [403, 403, 403]
    send_task.assert_not_called()
    connector.refresh_from_db()
    assert connector.enabled is True
