from __future__ import annotations

from unittest import mock

import pytest

from inventory_hub.connectors.services import POLL_TASK_NAME
from inventory_hub.connectors.tasks import connectors_poll_due_task
from tests.factories import ConnectorFactory

pytestmark = pytest.mark.django_db


def test_fan_out_task_enqueues_one_poll_per_due_connector_and_none_on_a_second_run():
    due = ConnectorFactory(next_poll_at=None)
    ConnectorFactory(enabled=False, disabled_reason="Paused")

    with mock.patch("inventory_hub.connectors.tasks.current_app.send_task") as send_task:
        connectors_poll_due_task()
        connectors_poll_due_task()

    send_task.assert_called_once_with(POLL_TASK_NAME, args=[due.pk])
