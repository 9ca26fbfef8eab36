"""Production settings pass Django's and our own deploy checks; missing secrets fail at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]

# Every variable the README lists for production, and nothing from the test environment.
PRODUCTION_ENV = {
    "SECRET_KEY": "k3v!q9-production-like-secret-key-with-more-than-fifty-characters-x7",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "DATABASE_URL": "postgres://hub:secret@127.0.0.1:5432/inventory_hub",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "hub.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://hub.example.com",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "INVENTORY_HUB_VAR_DIR"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_check_deploy_with_no_warning():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_development_defaults_are_flagged_by_check_deploy():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env={"DEBUG": "1"})

    assert result.returncode != 0
    for check_id in (
        "security.W018",
        "inventory_hub.W001",
        "inventory_hub.W002",
        "inventory_hub.W009",
        "inventory_hub.W010",
    ):
        assert check_id in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}

    result = _manage("check", env=env)

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_an_encryption_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "FIELD_ENCRYPTION_KEYS"}

    result = _manage("check", env=env)

    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS must be set" in result.stderr
