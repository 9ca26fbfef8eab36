"""After the demo set-up, each demo user logs in through a real browser and sees its pages."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from inventory_hub.connectors.models import Connector
from inventory_hub.dashboard.management.commands.demo import DEMO_USERS
from inventory_hub.inventory import services
from inventory_hub.inventory.models import AllocationRule, Channel, Location, Pool
from inventory_hub.inventory.rules import RuleValues

# serialized_rollback restores the role groups of the data migration after the flush.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def demo_set_up(settings, live_server):
    settings.DEBUG = True
    call_command("demo", no_serve=True, stdout=open("/dev/null", "w"))  # noqa: SIM115
    Location.objects.create(
        code="FC-1", name="Fulfillment center", kind="fulfillment_center", time_zone="America/Chicago"
    )
    Connector.objects.create(
        name="ShipHero WMS",
        role="wms",
        adapter="shiphero",
        base_url="https://public-api.shiphero.com",
        enabled=False,
        disabled_reason="No adapter for ShipHero is installed in this hub.",
    )
    pool = Pool.objects.create(
        code="web-fc", name="Web, ship from FC", scope="channel", channel=Channel.objects.create(code="web", name="Web")
    )
    services.allocation_rule_create(
        pool=pool,
        channel=pool.channel,
        values=RuleValues(safety_stock=5, channel_share_percent=60),
        author=get_user_model().objects.get(username="opslead"),
        reason="Initial web rule",
    )
    settings.DEBUG = False
    return live_server.url


def _log_in(page, base_url, username, password):
    page.goto(f"{base_url}/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Overview')")


@pytest.mark.parametrize(("username", "password", "role", "is_staff"), DEMO_USERS, ids=[u[0] for u in DEMO_USERS])
def test_each_demo_user_logs_in_and_sees_the_overview(
    demo_set_up, page, screenshot, username, password, role, is_staff
):
    _log_in(page, demo_set_up, username, password)

    assert page.locator(".role-tag").inner_text() == role
    assert page.locator("td", has_text="FC-1").count() == 1
    assert page.locator(".badge", has_text="Disabled").count() == 1
    screenshot(f"home-{username}")


def test_admin_reaches_connectors_and_the_manager_is_refused(demo_set_up, page, screenshot):
    _log_in(page, demo_set_up, "admin", "demo-admin-2026")
    page.click("nav >> text=Connectors")
    page.wait_for_selector("h1:has-text('Connectors')")
    screenshot("connectors-admin")
    page.click("button:has-text('Enable')")
    page.wait_for_selector("button:has-text('Disable')")

    assert Connector.objects.get().enabled is True

    page.click("text=Log out")
    _log_in(page, demo_set_up, "manager", "demo-manager-2026")
    assert page.locator("nav >> text=Connectors").count() == 0
    response = page.goto(f"{demo_set_up}/connectors/")
    assert response.status == 403
    screenshot("connectors-refused-manager")


def test_login_page_and_a_failed_login(demo_set_up, page, screenshot):
    page.goto(f"{demo_set_up}/accounts/login/")
    screenshot("login")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")

    assert "did not match" in page.locator("[role=alert]").inner_text()
    screenshot("login-failed")


def test_ops_lead_edits_a_rule_and_sees_the_history_entry(demo_set_up, page, screenshot):
    _log_in(page, demo_set_up, "opslead", "demo-opslead-2026")
    page.click("nav >> text=Allocation rules")
    screenshot("rules-opslead")
    page.click("a:text-is('Edit')")
    page.fill("textarea[name=reason]", "Saving without a change")
    page.click("button:has-text('Save as new version')")
    page.wait_for_selector("div.error:has-text('Nothing changed')")  # swapped in by htmx (422)
    screenshot("rule-edit-invalid")

    page.fill("input[name=channel_share_percent]", "70")
    page.fill("input[name=safety_stock]", "8")
    page.fill("textarea[name=reason]", "Shrinkage at Store B")
    page.click("button:has-text('Save as new version')")
    page.wait_for_selector("text=Version 2")
    screenshot("rule-edit-saved")

    assert AllocationRule.objects.get().versions.count() == 2
    assert page.locator("#rule-history li").first.inner_text().count("Shrinkage at Store B") == 1


def test_manager_reads_rule_history_but_cannot_edit(demo_set_up, page, screenshot):
    _log_in(page, demo_set_up, "manager", "demo-manager-2026")
    page.click("nav >> text=Allocation rules")

    assert page.locator("a", has_text="Edit").count() == 0
    page.click("text=History")
    page.wait_for_selector("text=Version 1")
    screenshot("rule-detail-manager")
    rule_id = AllocationRule.objects.get().pk
    assert page.goto(f"{demo_set_up}/rules/{rule_id}/edit/").status == 403


def test_admin_site_renders_for_the_admin(demo_set_up, page, screenshot):
    _log_in(page, demo_set_up, "admin", "demo-admin-2026")
    page.goto(f"{demo_set_up}/admin/connectors/connector/{Connector.objects.get().pk}/change/")
    screenshot("admin-connector-change")

    assert page.locator(".field-credentials_summary .readonly").inner_text() == "None stored"
