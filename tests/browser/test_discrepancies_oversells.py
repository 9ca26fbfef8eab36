"""The fulfillment manager's discrepancy timeline and oversell traces in a real browser (screenshots for people).

The sandbox's `stressed` scenario makes oversells and cascade loops within hours (the demo
backfill traces its orders).
"""

from __future__ import annotations

import re

import pytest

from inventory_hub.reconciliation.models import Discrepancy
from inventory_hub.tracing.models import Oversell, TraceStep
from tests.browser.conftest import log_in

# serialized_rollback restores the role groups of the data migration after the flush.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_manager_filters_acknowledges_and_follows_an_oversell_to_its_trace(stressed_demo, page, screenshot):
    base = stressed_demo
    assert Discrepancy.objects.filter(closed_at__isnull=True).count() > 50  # more than one page
    assert Oversell.objects.exists(), "the stressed scenario should oversell within 6 hours"
    log_in(page, base)

    # The timeline: chart drawn, open discrepancies listed.
    page.click("nav >> text=Discrepancies")
    page.wait_for_selector("#discrepancy-table tbody tr")
    page.wait_for_selector("#discrepancy-results .chart .main-svg")  # plotly drew the chart
    screenshot("discrepancies-manager")

    # Filter by location through HTMX: the results swap in and the URL is shareable.
    location = Discrepancy.objects.filter(closed_at__isnull=True).order_by("location__code").first().location
    with page.expect_response(lambda r: "location=" in r.url):
        page.select_option("select[name=location]", str(location.pk))
    page.wait_for_url(re.compile(rf"[?&]location={location.pk}(&|$)"))
    page.wait_for_selector("#discrepancy-results .chart .main-svg")
    codes = set(page.locator("#discrepancy-table tbody tr td:first-child").all_inner_texts())
    assert codes == {location.code}
    screenshot("discrepancies-filtered")

    # The shared URL reproduces the filtered page on its own.
    shared = page.url
    page.goto(shared)
    assert page.locator("select[name=location]").input_value() == str(location.pk)

    # Acknowledge: an empty note is refused inline, a note is saved and shown in the row.
    row = page.locator("#discrepancy-table tbody tr").first
    row_id = int(row.get_attribute("id").split("-")[1])
    row.locator("summary:has-text('Acknowledge')").click()
    row.locator("button:has-text('Save note')").click()
    page.wait_for_selector(f"#discrepancy-{row_id} [role=alert]:has-text('Add a note')")
    screenshot("discrepancy-acknowledge-empty-note")
    assert Discrepancy.objects.get(pk=row_id).acknowledged_at is None

    page.fill(f"#discrepancy-{row_id} textarea[name=note]", "Recounting bin A-3 with the store")
    page.click(f"#discrepancy-{row_id} button:has-text('Save note')")
    page.wait_for_selector(f"#discrepancy-{row_id} .ack-done:has-text('manager')")
    screenshot("discrepancy-acknowledged")
    assert Discrepancy.objects.get(pk=row_id).acknowledgement_note == "Recounting bin A-3 with the store"

    # Paging through HTMX pushes the page number into the URL.
    page.goto(f"{base}/discrepancies/")
    first_ids = page.locator("#discrepancy-table tbody tr").evaluate_all("rows => rows.map(r => r.id)")
    page.click("#discrepancy-table a:has-text('Older')")
    page.wait_for_url(re.compile(r"[?&]page=2(&|$)"))
    page.wait_for_selector(f"#discrepancy-table tbody tr:first-child:not(#{first_ids[0]})")
    assert set(first_ids).isdisjoint(
        page.locator("#discrepancy-table tbody tr").evaluate_all("rows => rows.map(r => r.id)")
    )
    screenshot("discrepancies-page-2")

    # Oversells: the list, a root-cause filter, then one trace.
    page.click("nav >> text=Oversells")
    page.wait_for_selector("#oversell-table tbody tr")
    screenshot("oversells-manager")
    cascaded = Oversell.objects.filter(steps__kind=TraceStep.Kind.CASCADE).first()
    chosen = cascaded or Oversell.objects.filter(originating_event__isnull=False).first() or Oversell.objects.first()
    cause_label = chosen.get_root_cause_display()
    page.click(f".cause-chip:has-text('{cause_label}')")
    page.wait_for_url(re.compile(rf"[?&]root_cause={chosen.root_cause}(&|$)"))
    causes = set(page.locator("#oversell-table tbody tr .rc").all_inner_texts())
    assert causes == {cause_label}
    screenshot("oversells-filtered")

    page.goto(f"{base}/oversells/{chosen.pk}/")
    page.wait_for_selector("table.waterfall tbody tr")
    sentence = page.locator(".root-cause .sentence").inner_text()
    assert sentence.endswith(".")
    assert re.search(r"\d\d:\d\d [A-Z]{2,5}", sentence)  # the order's local time with its zone
    assert page.locator("table.waterfall tbody tr").count() == chosen.steps.count()
    assert page.locator("table.waterfall rect.bar, table.waterfall circle.pt").count() == chosen.steps.count()
    assert page.locator(f"a[href='/locations/{chosen.location_id}/skus/{chosen.sku}/']").count() >= 1
    if cascaded:
        assert page.locator("text=Cascade loop after the oversell").count() == 1
        assert page.locator("tr.span-cascade").count() == chosen.steps.filter(kind="cascade").count()
    screenshot("oversell-trace")
