"""The pool audit trail in the Django admin: listed for admins, never edited by hand."""

from __future__ import annotations

import dataclasses

import pytest
from django.urls import reverse

from inventory_hub.core import roles
from inventory_hub.inventory.services import PoolDefinition, pool_update
from tests.factories import LocationFactory, PoolFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_admins_read_pool_changes_in_the_admin_but_cannot_add_or_edit_them(client):
    admin = UserFactory(username="ada", role=roles.ADMIN, is_staff=True)  # the demo's admin is staff too
    client.force_login(admin)
    pool = PoolFactory()
    pool.locations.add(LocationFactory())
    definition = PoolDefinition.of(pool)
    change = pool_update(
        pool=pool,
        definition=dataclasses.replace(definition, name=definition.name + " (east)"),
        author=UserFactory(username="olivia"),
        reason="Split the east stores out",
    )

    listing = client.get(reverse("admin:inventory_poolchange_changelist"))
    detail = client.get(reverse("admin:inventory_poolchange_change", args=[change.pk]))
    add = client.get(reverse("admin:inventory_poolchange_add"))

    assert listing.status_code == 200
    assert "Split the east stores out" in listing.content.decode()
    assert "olivia" in listing.content.decode()
    assert detail.status_code == 200
    assert 'name="reason"' not in detail.content.decode()  # shown read-only, not as a field
    assert add.status_code == 403
