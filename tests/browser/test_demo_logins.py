"""After the demo set-up, each role uses its pages in a real browser (screenshots for people)."""

from __future__ import annotations

import re

import pytest

from inventory_hub.connectors.models import Connector
from inventory_hub.dashboard.management.commands.demo import DEMO_USERS
from inventory_hub.inventory.models import AllocationRule
from tests.browser.conftest import log_in

# serialized_rollback restores the role groups of the data migration after the flush.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.mark.parametrize(("username", "password", "role", "is_staff"), DEMO_USERS, ids=[u[0] for u in DEMO_USERS])
def test_each_demo_user_logs_in_and_sees_the_overview(
    demo_set_up, page, screenshot, username, password, role, is_staff
):
    log_in(page, demo_set_up, username)

    assert page.locator(".role-tag").inner_text() == role
    assert page.locator(".tile h3", has_text="FC-1").count() == 1
    assert page.locator("#connector-state .badge", has_text="Healthy").count() == 3
    screenshot(f"home-{username}")


def test_admin_reaches_connectors_and_the_manager_is_refused(demo_set_up, page, screenshot):
    log_in(page, demo_set_up, "admin")
    page.click("nav >> text=Connectors")
    page.wait_for_selector("h1:has-text('Connectors')")
    screenshot("connectors-admin")
    page.locator("button:has-text('Disable')").first.click()
    page.wait_for_selector("button:has-text('Enable')")

    assert Connector.objects.filter(enabled=False).count() == 1

    page.click("text=Log out")
    log_in(page, demo_set_up, "manager")
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
    log_in(page, demo_set_up, "opslead")
    page.click("nav >> text=Allocation rules")
    screenshot("rules-opslead")
    page.locator("a:text-is('Edit')").first.click()
    rule = AllocationRule.objects.get(pk=int(re.search(r"/rules/(\d+)/edit/", page.url).group(1)))
    page.fill("textarea[name=reason]", "Saving without a change")
    page.click("button:has-text('Save as new version')")
    page.wait_for_selector("div.error:has-text('Nothing changed')")  # swapped in by htmx (422)
    screenshot("rule-edit-invalid")

    page.fill("input[name=channel_share_percent]", "70")
    page.fill("input[name=safety_stock]", "4")
    page.fill("textarea[name=reason]", "Shrinkage at Store B")
    page.click("button:has-text('Save as new version')")
    page.wait_for_selector("text=Version 2")
    screenshot("rule-edit-saved")

    assert rule.versions.count() == 2
    assert page.locator("#rule-history li").first.inner_text().count("Shrinkage at Store B") == 1


def test_manager_reads_rule_history_but_cannot_edit(demo_set_up, page, screenshot):
    log_in(page, demo_set_up, "manager")
    page.click("nav >> text=Allocation rules")

    assert page.locator("a", has_text="Edit").count() == 0
    page.locator("a:text-is('History')").first.click()
    page.wait_for_selector("text=Version 1")
    screenshot("rule-detail-manager")
    rule_id = AllocationRule.objects.order_by("pk").first().pk
    assert page.goto(f"{demo_set_up}/rules/{rule_id}/edit/").status == 403


def test_admin_site_never_shows_connector_credentials(demo_set_up, page, screenshot):
    log_in(page, demo_set_up, "admin")
    connector = Connector.objects.get(adapter="shopify")
    page.goto(f"{demo_set_up}/admin/connectors/connector/{connector.pk}/change/")
    screenshot("admin-connector-change")

    assert page.locator(".field-credentials_summary .readonly").inner_text() == "Set (access_token, webhook_secret)"
    assert connector.credentials["access_token"] not in page.content()
    assert connector.credentials["webhook_secret"] not in page.content()
