"""The fulfillment manager's way in: the overview, the worst location's grid, one SKU's history."""

from __future__ import annotations

import datetime as dt

import pytest

from inventory_hub.inventory.models import Location
from tests.browser.conftest import log_in

# serialized_rollback restores the role groups of the data migration after the flush.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_manager_opens_the_worst_location_filters_it_and_reads_a_skus_history(demo_set_up, page, screenshot):
    # One demo set-up for the whole walk: the backfill is the slow part.
    log_in(page, demo_set_up)
    page.wait_for_selector("#exposure-chart .main-svg")

    tiles = page.locator(".tile")
    assert tiles.count() == Location.objects.count() == 3
    assert page.locator("#connector-state .badge", has_text="Healthy").count() == 3
    screenshot("overview")

    # Sorting swaps the tiles only, and the address follows.
    page.click("#location-tiles .sort-links a:text-is('Name')")
    page.wait_for_url("**/?sort=name*")
    # The address changes before the swap settles: wait for the swapped tiles themselves.
    page.wait_for_selector("#location-tiles .sort-links a[aria-current='true']:text-is('Name')")
    names = [name.strip() for name in page.locator(".tile h3").all_inner_texts()]
    assert names == sorted(names, key=lambda text: text.split(" ", 1)[1].lower())
    page.click("#exposure-chart .sort-links a:text-is('6 h')")
    page.wait_for_selector("#exposure-chart a[aria-current='true']:text-is('6 h')")
    page.wait_for_selector("#exposure-chart .main-svg")  # redrawn after the swap
    screenshot("overview-sorted-by-name")

    page.click("#location-tiles .sort-links a:text-is('Worst first')")
    page.wait_for_url("**/?sort=worst*")
    page.wait_for_selector("#location-tiles .sort-links a[aria-current='true']:text-is('Worst first')")
    worst = page.locator(".tile").first.get_attribute("data-location")
    page.locator(".tile .tile-link").first.click()
    page.wait_for_selector(f"h1:has-text('{worst}')")
    assert page.locator("#position-grid tbody tr").count() > 0
    screenshot("location-grid")

    # Only discrepant SKUs: every row then carries at least one open gap.
    page.check("input[name=discrepant]")
    page.wait_for_url("**discrepant=1*")
    page.wait_for_load_state("networkidle")
    rows = page.locator("#position-grid tbody tr")
    assert rows.count() > 0
    assert rows.count() == page.locator("#position-grid tbody tr:has(.gap-item)").count()
    screenshot("location-grid-discrepant")

    page.fill("input[name=q]", "no-such-sku")
    page.wait_for_selector("#position-grid .empty")
    assert "q=no-such-sku" in page.url
    screenshot("location-grid-no-match")
    page.fill("input[name=q]", "")
    page.wait_for_selector("#position-grid tbody tr")

    sku = page.locator("#position-grid td.sku a").first.inner_text()
    page.locator("#position-grid td.sku a").first.click()
    page.wait_for_selector(f"h1:has-text('{sku}')")
    page.wait_for_selector("#sku-history .main-svg")
    screenshot("sku-detail")

    # What did each system believe an hour ago? The answer is swapped in under the form.
    local_now = page.locator("input[name=at]").input_value()
    earlier = dt.datetime.fromisoformat(local_now) - dt.timedelta(hours=1)
    page.fill("input[name=at]", earlier.strftime("%Y-%m-%dT%H:%M"))
    page.click("form.belief button[type=submit]")
    page.wait_for_selector(f"#belief-at:has-text('{earlier.strftime('%b %-d, %H:%M')}')")
    assert page.locator("#belief-at tbody tr").count() == 3
    assert page.locator("#belief-at .verdict").count() == 1
    screenshot("sku-detail-belief-at")
