from __future__ import annotations

import datetime as dt

import pytest

from inventory_hub.connectors import services
from inventory_hub.connectors.models import Connector, PollRun
from tests.factories import ConnectorFactory, PollRunFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)


def test_fan_out_claims_exactly_the_enabled_connectors_that_are_due():
    never_polled = ConnectorFactory(next_poll_at=None)
    overdue = ConnectorFactory(next_poll_at=NOW - dt.timedelta(seconds=1))
    due_now = ConnectorFactory(next_poll_at=NOW)
    ConnectorFactory(next_poll_at=NOW + dt.timedelta(seconds=1))  # not yet due
    ConnectorFactory(next_poll_at=None, enabled=False, disabled_reason="Token revoked")

    claimed = services.connectors_due_claim(now=NOW)

    assert sorted(claimed) == sorted([never_polled.pk, overdue.pk, due_now.pk])


def test_a_claimed_connector_is_next_due_one_interval_later():
    connector = ConnectorFactory(next_poll_at=None, poll_interval_seconds=90)

    services.connectors_due_claim(now=NOW)

    connector.refresh_from_db()
    assert connector.next_poll_at == NOW + dt.timedelta(seconds=90)
    assert services.connectors_due_claim(now=NOW + dt.timedelta(seconds=89)) == []
    assert services.connectors_due_claim(now=NOW + dt.timedelta(seconds=90)) == [connector.pk]


def test_two_beats_that_saw_the_same_due_connectors_enqueue_each_once():
    first, second = ConnectorFactory(next_poll_at=None), ConnectorFactory(next_poll_at=NOW - dt.timedelta(minutes=5))
    # Both beats read the due list before either claims: the race the compare-and-set closes.
    seen_by_beat_a = services.connectors_due_list(now=NOW)
    seen_by_beat_b = services.connectors_due_list(now=NOW)

    claimed_a = services.connectors_due_claim(now=NOW, due=seen_by_beat_a)
    claimed_b = services.connectors_due_claim(now=NOW, due=seen_by_beat_b)

    assert sorted(claimed_a) == sorted([first.pk, second.pk])
    assert claimed_b == []


def test_only_one_poll_run_of_a_connector_can_be_running():
    connector = ConnectorFactory()
    held = services.poll_run_claim(connector_id=connector.pk)

    second = services.poll_run_claim(connector_id=connector.pk)

    assert held is not None
    assert second is None
    assert PollRun.objects.filter(connector=connector).count() == 1


def test_a_disabled_connector_is_not_claimed():
    connector = ConnectorFactory(enabled=False, disabled_reason="Paused for migration")

    assert services.poll_run_claim(connector_id=connector.pk) is None
    assert PollRun.objects.exists() is False


def test_a_permanent_failure_disables_the_connector_with_a_readable_reason():
    connector = ConnectorFactory()
    run = services.poll_run_claim(connector_id=connector.pk)

    services.poll_run_fail(run=run, error="ShipHero rejected the credentials (HTTP 401).", permanent=True, now=NOW)

    connector.refresh_from_db()
    run.refresh_from_db()
    assert (connector.enabled, connector.disabled_reason) == (False, "ShipHero rejected the credentials (HTTP 401).")
    assert (run.status, run.error_kind, run.finished_at) == ("failed", "permanent", NOW)


def test_a_transient_failure_keeps_the_connector_enabled_and_frees_the_claim():
    connector = ConnectorFactory()
    run = services.poll_run_claim(connector_id=connector.pk)

    services.poll_run_fail(run=run, error="Timed out after 30 s", permanent=False)

    assert Connector.objects.get(pk=connector.pk).enabled is True
    assert services.poll_run_claim(connector_id=connector.pk) is not None


def test_a_poll_abandoned_by_a_dead_worker_is_expired_and_the_connector_polled_again():
    connector = ConnectorFactory()
    PollRunFactory(connector=connector, started_at=NOW - dt.timedelta(hours=2))

    expired = services.poll_runs_expire(older_than=dt.timedelta(minutes=31), now=NOW)

    assert expired == 1
    assert PollRun.objects.get().status == "failed"
    assert services.poll_run_claim(connector_id=connector.pk, now=NOW) is not None


def test_enabling_a_connector_clears_the_reason_and_makes_it_due_at_once():
    connector = ConnectorFactory(
        enabled=False, disabled_reason="Token revoked", next_poll_at=NOW + dt.timedelta(hours=1)
    )

    services.connector_enable(connector_id=connector.pk)

    connector.refresh_from_db()
    assert (connector.enabled, connector.disabled_reason, connector.next_poll_at) == (True, "", None)
