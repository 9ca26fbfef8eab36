from __future__ import annotations

import pytest
from django.conf import settings

from inventory_hub.celery import app
from inventory_hub.connectors.services import POLL_TASK_NAME
from inventory_hub.observations.tasks import RECONCILE_TASK_NAME


@pytest.mark.parametrize("entry", sorted(settings.CELERY_BEAT_SCHEDULE))
def test_every_beat_entry_names_a_registered_task(entry):
    app.loader.import_default_modules()

    assert settings.CELERY_BEAT_SCHEDULE[entry]["task"] in app.tasks


@pytest.mark.parametrize("name", [POLL_TASK_NAME, RECONCILE_TASK_NAME])
def test_tasks_sent_by_name_across_layers_are_registered(name):
    app.loader.import_default_modules()

    assert name in app.tasks
