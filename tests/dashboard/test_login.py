from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"


def test_logging_in_reaches_the_overview(client):
    UserFactory(username="dana", role="Fulfillment manager")

    response = client.post(reverse("login"), {"username": "dana", "password": PASSWORD}, follow=True)

    assert response.status_code == 200
    assert "Overview" in response.content.decode()


def test_repeated_failed_logins_lock_the_account_even_with_the_right_password(client, settings):
    UserFactory(username="dana", role="Fulfillment manager")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "dana", "password": "wrong"})

    response = client.post(reverse("login"), {"username": "dana", "password": PASSWORD})

    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_page_carries_a_content_security_policy(client):
    response = client.get(reverse("login"))

    policy = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy
    assert "frame-ancestors 'none'" in policy
