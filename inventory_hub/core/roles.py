"""The three roles and what each may do, as Django groups and permissions.

Roles are cumulative: an ops lead can do all a fulfillment manager can, an admin all an ops lead
can. Views check permissions (never group names), so a superuser or a custom group also works.
"""

from __future__ import annotations

from typing import Any

FULFILLMENT_MANAGER = "Fulfillment manager"
OPS_LEAD = "Ops lead"
ADMIN = "Admin"
ROLES = (FULFILLMENT_MANAGER, OPS_LEAD, ADMIN)

# The permission each capability needs; views and templates ask for these.
PERM_VIEW = "inventory.view_location"
PERM_ACKNOWLEDGE = "reconciliation.acknowledge_discrepancy"
PERM_EDIT_RULES = "inventory.change_allocationrule"
PERM_MANAGE_CONNECTORS = "connectors.change_connector"
PERM_EXPORT_REPORTS = "core.export_reports"

# Apps whose every model a fulfillment manager may read.
HUB_APPS = ("inventory", "connectors", "observations", "reconciliation", "tracing", "core")

# (app_label, model) pairs an ops lead may add, change and delete.
OPS_LEAD_MODELS = (
    ("inventory", "channel"),
    ("inventory", "pool"),
    ("inventory", "poolboundary"),
    ("inventory", "poolboundaryentry"),
    ("inventory", "allocationrule"),
)

# (app_label, model) pairs an admin may add, change and delete, beyond the ops lead's.
ADMIN_MODELS = (
    ("inventory", "location"),
    ("connectors", "connector"),
    ("connectors", "locationmapping"),
    ("auth", "user"),
    ("django_celery_beat", "periodictask"),
    ("django_celery_beat", "intervalschedule"),
    ("django_celery_beat", "crontabschedule"),
    ("webhooks", "webhookdelivery"),  # read-only in the admin: deliveries come from the senders only
)


def _model_perms(pairs: tuple[tuple[str, str], ...], actions: tuple[str, ...]) -> set[tuple[str, str]]:
    return {(app, f"{action}_{model}") for app, model in pairs for action in actions}


def role_permissions(permission_model: Any) -> dict[str, set[tuple[str, str]]]:
    """Map each role to the (app_label, codename) pairs it holds, given the Permission model."""
    read = {
        (app, codename)
        for app, codename in permission_model.objects.filter(
            content_type__app_label__in=HUB_APPS, codename__startswith="view_"
        ).values_list("content_type__app_label", "codename")
    }
    manager = read | {("reconciliation", "acknowledge_discrepancy")}
    # Rule versions are history: added through an edit, never changed or deleted.
    ops = (
        manager
        | _model_perms(OPS_LEAD_MODELS, ("add", "change", "delete", "view"))
        | {("inventory", "add_allocationruleversion")}
    )
    admin = (
        ops
        | _model_perms(ADMIN_MODELS, ("add", "change", "delete", "view"))
        | {("auth", "view_group"), ("core", "export_reports")}
    )
    return {FULFILLMENT_MANAGER: manager, OPS_LEAD: ops, ADMIN: admin}


def roles_sync(apps: Any) -> None:
    """Create the role groups and set their permissions exactly (idempotent).

    Takes an app registry so data migrations can pass their historical one. Permissions are
    normally created after all migrations ran; create them first so a fresh database gets
    complete groups.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        # create_permissions skips an app without a models module, which a migration's historical
        # app configs never have: lend one for the call, then put back what was there.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = models_module

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, wanted in role_permissions(permission_model).items():
        group, _ = group_model.objects.get_or_create(name=role)
        perms = [
            permission_model.objects.get(content_type__app_label=app, codename=codename)
            for app, codename in sorted(wanted)
        ]
        group.permissions.set(perms)
