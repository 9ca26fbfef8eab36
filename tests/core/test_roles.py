from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from inventory_hub.core import roles
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_data_migration_creates_the_three_role_groups():
    assert sorted(Group.objects.values_list("name", flat=True)) == sorted(roles.ROLES)


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        (
            roles.FULFILLMENT_MANAGER,
            {roles.PERM_VIEW, roles.PERM_ACKNOWLEDGE, "observations.view_inventoryposition"},
            {roles.PERM_EDIT_RULES, roles.PERM_MANAGE_CONNECTORS, roles.PERM_EXPORT_REPORTS},
        ),
        (
            roles.OPS_LEAD,
            {roles.PERM_ACKNOWLEDGE, roles.PERM_EDIT_RULES, "inventory.change_pool", "inventory.change_poolboundary"},
            {roles.PERM_MANAGE_CONNECTORS, roles.PERM_EXPORT_REPORTS, "inventory.change_allocationruleversion"},
        ),
        (
            roles.ADMIN,
            {roles.PERM_EDIT_RULES, roles.PERM_MANAGE_CONNECTORS, roles.PERM_EXPORT_REPORTS, "auth.change_user"},
            {"inventory.delete_allocationruleversion", "observations.change_inventoryposition"},
        ),
    ],
)
def test_each_role_holds_exactly_its_capabilities(role, allowed, refused):
    user = UserFactory(role=role)

    assert {perm for perm in allowed if user.has_perm(perm)} == allowed
    assert {perm for perm in refused if user.has_perm(perm)} == set()


def test_syncing_roles_again_changes_nothing():
    from django.apps import apps

    roles.roles_sync(apps)  # the migration ran before later migrations added models (e.g. HopLagSample)
    before = {g.name: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()}

    roles.roles_sync(apps)

    after = {g.name: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()}
    assert after == before


def test_the_roles_migration_is_current_for_every_hub_model():
    from django.apps import apps

    before = {g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}

    roles.roles_sync(apps)

    after = {g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}
    assert after == before, "a model was added: add a data migration that calls core.roles.roles_sync"
