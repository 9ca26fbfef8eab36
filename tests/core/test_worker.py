"""A real Celery worker process executes a task through the configured broker.

On the embedded default that is kombu's filesystem transport; in CI's second run it is Redis.
The worker shares the test database, so what it writes is what a user would see.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from inventory_hub.core.models import WorkerHeartbeat
from inventory_hub.core.tasks import worker_heartbeat_task

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.real_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_runs_a_task_sent_through_the_broker():
    env = {**os.environ, "DATABASE_URL": _database_url()}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "inventory_hub",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--hostname=test-worker@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        worker_heartbeat_task.delay("worker-under-test")

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not WorkerHeartbeat.objects.filter(hostname="worker-under-test").exists():
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.5)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]

    assert WorkerHeartbeat.objects.filter(hostname="worker-under-test").exists(), output
    print(f"real Celery worker ran the task via {settings.CELERY_BROKER_URL.split('://')[0]}://")
