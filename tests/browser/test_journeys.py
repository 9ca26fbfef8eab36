"""The fulfillment manager's day in one journey through the pages (issue 6's must-show): the worst
location first, its discrepant SKUs, then an oversell there and its trace; and what the role is
refused. The ops lead's and the admin's journeys are in test_editors.py."""

from __future__ import annotations

import pytest

from inventory_hub.inventory.models import AllocationRule
from inventory_hub.tracing.models import Oversell
from tests.browser.conftest import log_in

# serialized_rollback restores the role groups of the data migration after the flush.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_manager_goes_from_the_worst_location_to_an_oversell_trace(stressed_demo, page, screenshot):
    base = stressed_demo
    log_in(page, base)

    # The overview puts the worst location first; open it.
    page.wait_for_selector(".tile")
    worst = page.locator(".tile").first.get_attribute("data-location")
    page.locator(".tile .tile-link").first.click()
    page.wait_for_selector("#position-grid tbody tr")
    assert worst in page.locator("h1").inner_text()

    # Only the discrepant SKUs: every row left has an open gap highlighted by class.
    page.check("input[name=discrepant]")
    page.locator("#position-grid form button, form button:has-text('Apply')").first.click()
    page.wait_for_url("**discrepant=1**")
    # The address changes before the swap settles: wait for the filtered rows themselves.
    page.wait_for_function(
        "() => { const rows = [...document.querySelectorAll('#position-grid tbody tr')];"
        " return rows.length > 0 && rows.every(r => r.innerHTML.includes('gap-')); }"
    )
    screenshot("journey-worst-location-discrepant")

    # An oversell at a location, and its trace: the count event, the hops, the order, the cause in words.
    oversell = Oversell.objects.filter(location__code=worst).first() or Oversell.objects.order_by("-shortfall").first()
    assert oversell is not None, "the stressed scenario oversells within six hours"
    page.click("nav >> text=Oversells")
    page.wait_for_selector("#oversell-table tbody tr")
    page.goto(f"{base}/oversells/?location={oversell.location_id}")
    page.locator(f"a[href='/oversells/{oversell.pk}/']").first.click()
    page.wait_for_selector(".sentence")
    assert page.locator("h1").inner_text().startswith(f"Oversell of {oversell.quantity}")
    assert page.locator("table.waterfall").count() == 1
    assert len(page.locator(".sentence").inner_text()) > 40  # a sentence, not a code
    screenshot("journey-oversell-trace")

    # What a fulfillment manager may not do: edit rules or pools, manage connectors.
    rule = AllocationRule.objects.first()
    assert page.goto(f"{base}/rules/{rule.pk}/edit/").status == 403
    assert page.goto(f"{base}/connectors/").status == 403
    assert page.locator("nav >> text=Connectors").count() == 0
