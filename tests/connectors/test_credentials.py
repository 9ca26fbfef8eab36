from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from inventory_hub.connectors.models import Connector
from inventory_hub.core import crypto
from tests.factories import ConnectorFactory

pytestmark = pytest.mark.django_db

CANARY = "shpat_CANARY_0123456789abcdef"


def _raw_credentials(connector_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM connectors_connector WHERE id = %s", [connector_id])
        return cursor.fetchone()[0]


def test_the_credentials_column_holds_no_plaintext():
    connector = ConnectorFactory(credentials={"access_token": CANARY})

    raw = _raw_credentials(connector.pk)

    assert CANARY not in raw
    assert "access_token" not in raw
    assert Connector.objects.get(pk=connector.pk).credentials == {"access_token": CANARY}


def test_rotation_re_encrypts_with_the_new_key_and_the_old_key_can_then_go(settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    connector = ConnectorFactory(credentials={"access_token": CANARY})
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    call_command("rotate_connector_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert crypto.is_current(_raw_credentials(connector.pk))
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert Connector.objects.get(pk=connector.pk).credentials == {"access_token": CANARY}


def test_reading_with_a_missing_key_fails_with_a_clear_error(settings):
    connector = ConnectorFactory(credentials={"access_token": CANARY})
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(crypto.DecryptionError, match="cannot be decrypted"):
        Connector.objects.get(pk=connector.pk)


def test_admin_never_shows_stored_credentials_back(admin_client):
    connector = ConnectorFactory(credentials={"access_token": CANARY})

    response = admin_client.get(reverse("admin:connectors_connector_change", args=[connector.pk]))

    assert response.status_code == 200
    assert CANARY not in response.content.decode()
    assert "Set (access_token)" in response.content.decode()


def _admin_form(connector, **overrides):
    data = {
        "name": connector.name,
        "role": connector.role,
        "adapter": connector.adapter,
        "base_url": connector.base_url,
        "options": "{}",
        "poll_interval_seconds": connector.poll_interval_seconds,
        "enabled": "on",
        "disabled_reason": "",
        "new_credentials": "",
        "location_mappings-TOTAL_FORMS": "0",
        "location_mappings-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_admin_keeps_credentials_when_the_field_is_left_blank(admin_client):
    connector = ConnectorFactory(credentials={"access_token": CANARY})

    response = admin_client.post(
        reverse("admin:connectors_connector_change", args=[connector.pk]), _admin_form(connector)
    )

    assert response.status_code == 302
    assert Connector.objects.get(pk=connector.pk).credentials == {"access_token": CANARY}


def test_admin_replaces_credentials_and_rejects_malformed_json(admin_client):
    connector = ConnectorFactory(credentials={"access_token": CANARY})
    url = reverse("admin:connectors_connector_change", args=[connector.pk])

    bad = admin_client.post(url, _admin_form(connector, new_credentials='{"access_token": '))
    good = admin_client.post(url, _admin_form(connector, new_credentials='{"access_token": "shpat_new"}'))

    assert bad.status_code == 200
    assert "Not valid JSON" in bad.content.decode()
    assert good.status_code == 302
    assert Connector.objects.get(pk=connector.pk).credentials == {"access_token": "shpat_new"}
