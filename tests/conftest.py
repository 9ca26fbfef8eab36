from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from inventory_hub.core import roles
from tests.factories import UserFactory

ROLE_USERNAMES = {roles.FULFILLMENT_MANAGER: "manager", roles.OPS_LEAD: "opslead", roles.ADMIN: "admin"}


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # Pages render without a collectstatic manifest in tests.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Production hashes at PBKDF2's full cost on purpose; tests make users and log in by the
    # hundred (the schemathesis run checks a password per generated example).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Cached estimates (clock offsets) are keyed by ids a rolled-back test may hand out again.
    cache.clear()
    yield
    cache.clear()


def _client_for(role: str) -> Client:
    user = UserFactory(username=ROLE_USERNAMES[role], role=role)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def manager_client(db) -> Client:
    return _client_for(roles.FULFILLMENT_MANAGER)


@pytest.fixture
def ops_client(db) -> Client:
    return _client_for(roles.OPS_LEAD)


@pytest.fixture
def admin_role_client(db) -> Client:
    return _client_for(roles.ADMIN)


@pytest.fixture
def role_client(db):
    """A factory: role name (or None for anonymous) → logged-in test client."""

    def make(role: str | None) -> Client:
        return Client() if role is None else _client_for(role)

    return make
