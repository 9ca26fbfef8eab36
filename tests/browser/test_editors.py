"""Pools and boundaries, the rule editor with its preview, and connectors, in a real browser.

One demo set-up (about 30 s of backfill) is shared by every step, so this is one long test.
"""

from __future__ import annotations

import re
from unittest import mock

import pytest

from inventory_hub.connectors.models import Connector
from inventory_hub.inventory.models import AllocationRule, Pool, PoolBoundaryEntry, PoolChange
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _log_out(page):
    page.click("text=Log out")


def _pools_as_ops_lead(page, base_url, screenshot):
    page.click("nav >> text=Pools")
    page.wait_for_selector("h1:has-text('Pools and boundaries')")
    assert page.locator(".pool-card").count() == 3
    assert page.locator("ul.mismatches li", has_text="which the WMS boundary excludes").count() == 3
    screenshot("pools-opslead")

    page.locator(".pool-card", has_text="Web pool").locator("a:has-text('Edit')").click()
    page.wait_for_selector("h1:has-text('Web pool')")
    screenshot("pool-detail-opslead")

    # The ERP does not count the fulfillment center's quarantine bin either: record it, first forgetting why.
    erp = Connector.objects.get(role="erp")
    card = page.locator(f"#boundary-{erp.pk}")
    card.locator("select[name$=new_external_location_id]").select_option("Fulfillment Center - ACME")
    card.locator("input[name$=new_bin]").fill("QUARANTINE")
    card.locator("select[name$=new_state]").select_option("out")
    card.locator("button:has-text('Save')").click()
    page.wait_for_selector(f"#boundary-{erp.pk} .has-error p.error:has-text('This field is required')")
    screenshot("pool-boundary-invalid")

    card = page.locator(f"#boundary-{erp.pk}")  # swapped by htmx: find it again
    card.locator("textarea[name$=reason]").fill("ERPNext keeps quarantine in its own warehouse at the FC")
    card.locator("button:has-text('Save')").click()
    page.wait_for_selector("p.saved:has-text('boundary was saved')")
    screenshot("pool-boundary-saved")

    pool = Pool.objects.get(code="web-pool")
    assert PoolBoundaryEntry.objects.filter(
        boundary__pool=pool, boundary__connector=erp, bin="QUARANTINE", included=False
    ).exists()
    assert page.locator("#pool-history li", has_text="ERPNext keeps quarantine").count() == 1
    mismatch = page.locator("ul.mismatches li", has_text="QUARANTINE").first.inner_text()
    assert "Sandbox ERPNext and" not in mismatch  # the ERP no longer counts the FC's quarantine
    assert PoolChange.objects.get(pool=pool).author_name == "opslead"


def _rule_as_ops_lead(page, screenshot):
    page.click("nav >> text=Allocation rules")
    page.locator("tr", has_text="Web pool").locator("a:text-is('Edit')").click()
    rule = AllocationRule.objects.get(pk=int(re.search(r"/rules/(\d+)/edit/", page.url).group(1)))
    page.wait_for_selector("#rule-preview:has-text('These are the values in force now')")  # loaded lazily
    screenshot("rule-edit-opslead")

    page.fill("input[name=safety_stock]", "-3")  # typed: validated after 400 ms, no submit
    page.wait_for_selector("#msg-safety_stock .error:has-text('greater than or equal to 0')")
    assert page.locator("#rule-preview .empty").inner_text() == "Fix the highlighted values to see their effect."
    screenshot("rule-edit-inline-error")

    page.fill("input[name=safety_stock]", "0")
    page.wait_for_selector("#rule-preview:has-text('If saved now')")
    assert page.locator("#msg-safety_stock .error").count() == 0
    before, after = (
        int(page.locator("#rule-preview .preview-totals dd").first.locator(".num").nth(i).inner_text()) for i in (0, 1)
    )
    assert after > before  # no safety stock: more may be promised
    assert page.locator("#preview-top tbody tr").count() == 10
    screenshot("rule-preview")

    page.fill("textarea[name=reason]", "Promise every unit at peak")
    page.click("button:has-text('Save as new version')")
    page.wait_for_selector("text=Saved as version 2")
    screenshot("rule-edit-saved")
    assert rule.versions.count() == 2
    assert "Safety stock: 2 → 0" in page.locator("#rule-history li").first.inner_text()


def _connectors_as_admin(page, screenshot):
    page.click("nav >> text=Connectors")
    page.wait_for_selector("h1:has-text('Connectors')")
    wms = Connector.objects.get(role="wms")
    row = page.locator("#connector-table tr", has_text=wms.name)
    with mock.patch("inventory_hub.connectors.services.current_app.send_task") as send_task:
        row.locator("button:has-text('Poll now')").click()
        page.wait_for_selector(f".notice-ok:has-text('{wms.name} is queued for a poll now')")
    send_task.assert_called_once()
    screenshot("connectors-poll-now")

    page.locator("#connector-table tr", has_text=wms.name).locator("button:has-text('Disable')").click()
    page.wait_for_selector(f".notice-ok:has-text('{wms.name} is disabled')")
    assert page.locator("#connector-table tr", has_text=wms.name).locator("button:has-text('Poll now')").is_disabled()
    screenshot("connectors-disabled")


def _manager_is_refused(page, base_url, screenshot):
    page.click("nav >> text=Pools")
    page.locator(".pool-card", has_text="Web pool").locator("a:has-text('Details')").click()
    page.wait_for_selector("text=Read-only: an ops lead edits pools and boundaries.")
    assert page.locator("#pool-body form").count() == 0
    screenshot("pool-detail-manager")
    rule = AllocationRule.objects.order_by("pk").first()
    assert page.goto(f"{base_url}/rules/{rule.pk}/edit/").status == 403
    assert page.goto(f"{base_url}/connectors/").status == 403


def test_ops_lead_edits_pools_and_rules_admin_polls_manager_reads(demo_set_up, page, screenshot):
    log_in(page, demo_set_up, "opslead")
    _pools_as_ops_lead(page, demo_set_up, screenshot)
    _rule_as_ops_lead(page, screenshot)
    assert page.locator("nav >> text=Connectors").count() == 0
    _log_out(page)

    log_in(page, demo_set_up, "admin")
    _connectors_as_admin(page, screenshot)
    _log_out(page)

    log_in(page, demo_set_up, "manager")
    _manager_is_refused(page, demo_set_up, screenshot)
