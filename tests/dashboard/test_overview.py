"""The overview: a tile per location, worst first, sortable through HTMX; the exposure chart; connector state."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from inventory_hub.connectors.models import LocationMapping, PollRun
from inventory_hub.observations.models import InventoryPosition
from inventory_hub.reconciliation import exposure
from inventory_hub.reconciliation import selectors as reconciliation_selectors
from inventory_hub.reconciliation.models import Discrepancy, ExposureSample, HopLagSample
from tests.factories import ConnectorFactory, LocationFactory, PollRunFactory, position_create

pytestmark = pytest.mark.django_db

# Recent, so it falls in the charts' and lag statistics' windows that end at the real now.
NOW = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=30)


@pytest.fixture(autouse=True)
def _clock_30_minutes_after_the_data():
    # NOW is fixed at import; the suite may reach these tests minutes later, and windows are asserted.
    with time_machine.travel(NOW + dt.timedelta(minutes=30), tick=False):
        yield


def _position(connector, location, sku, *, on_hand, allocated=0, available=None, bin_name=""):
    return position_create(
        connector, location, sku, on_hand=on_hand, allocated=allocated, available=available, bin=bin_name, at=NOW
    )


def _discrepancy(location, sku, classification, hop="wms_erp"):
    return Discrepancy.objects.create(
        location=location,
        sku=sku,
        hop=hop,
        classification=classification,
        opened_at=NOW - dt.timedelta(hours=1),
        upstream_quantity=5,
        downstream_quantity=8,
        peak_gap=3,
    )


@pytest.fixture
def retailer():
    """Three locations: STORE-B promises 7 units the WMS lacks, FC-1 has open discrepancies, STORE-C is calm."""
    wms = ConnectorFactory(name="ShipHero", role="wms", adapter="shiphero")
    erp = ConnectorFactory(name="ERPNext", role="erp", adapter="erpnext")
    shop = ConnectorFactory(name="Shopify", role="storefront", adapter="shopify")
    fc = LocationFactory(code="FC-1", name="Fulfillment Center", time_zone="America/Chicago")
    store_b = LocationFactory(code="STORE-B", name="Store B", time_zone="Europe/Berlin")
    store_c = LocationFactory(code="STORE-C", name="Store C", time_zone="America/New_York")
    for location in (fc, store_b, store_c):
        for connector in (wms, erp, shop):
            LocationMapping.objects.create(
                connector=connector, external_id=f"{connector.pk}-{location.code}", location=location
            )
    # STORE-B: the storefront shows 10 and 4 where the WMS has 5 and 2 → 5 + 2 phantom units.
    for sku, wms_units, shown in (("SKU-1", 5, 10), ("SKU-2", 2, 4), ("SKU-3", 9, 9)):
        _position(wms, store_b, sku, on_hand=wms_units)
        _position(shop, store_b, sku, on_hand=shown, available=shown)
    # FC-1: no phantom units, but two stale and one drift discrepancy.
    _position(wms, fc, "SKU-1", on_hand=3)
    _position(shop, fc, "SKU-1", on_hand=3, available=3)
    _discrepancy(fc, "SKU-1", "stale")
    _discrepancy(fc, "SKU-2", "stale")
    _discrepancy(fc, "SKU-3", "drift", hop="erp_storefront")
    _discrepancy(store_c, "SKU-9", "in_flight")
    _discrepancy(store_c, "SKU-9", "in_flight", hop="erp_storefront")
    _discrepancy(store_c, "SKU-10", "in_flight")
    _discrepancy(store_c, "SKU-11", "in_flight")
    _position(wms, store_c, "SKU-9", on_hand=1)
    _position(shop, store_c, "SKU-9", on_hand=1, available=1)
    for connector in (wms, erp, shop):
        PollRunFactory(connector=connector, status="succeeded", started_at=NOW, finished_at=NOW)
    HopLagSample.objects.create(
        location=store_c, sku="SKU-9", hop="wms_erp", wms_changed_at=timezone.now() - dt.timedelta(hours=1),
        reflected_at=timezone.now(), lag_seconds=5400, method="sync",
    )  # fmt: skip
    exposure.exposure_record(now=NOW)
    return {"fc": fc, "store_b": store_b, "store_c": store_c, "wms": wms, "erp": erp, "shop": shop}


def _tile_codes(html: str) -> list[str]:
    return re.findall(r'data-location="([^"]+)"', html)


def test_exposure_recorded_in_sql_matches_the_python_reference(retailer):
    computed = exposure.exposure_compute()

    assert {
        pk: value.phantom_units for pk, value in computed.items()
    } == reconciliation_selectors.exposure_by_location()
    assert computed[retailer["store_b"].pk] == exposure.Exposure(phantom_units=7, skus=2)


def test_excluded_bins_count_against_the_wms_as_reconciliation_does(retailer):
    from inventory_hub.inventory.models import PoolBoundary, PoolBoundaryEntry
    from tests.factories import PoolFactory

    wms, store_b = retailer["wms"], retailer["store_b"]
    _position(wms, store_b, "SKU-3", on_hand=4, bin_name="quarantine")  # 4 of SKU-3's 9 are not sellable
    boundary = PoolBoundary.objects.create(pool=PoolFactory(), connector=wms)
    PoolBoundaryEntry.objects.create(
        boundary=boundary, external_location_id=f"{wms.pk}-STORE-B", bin="quarantine", included=False
    )

    computed = exposure.exposure_compute(location_ids=[store_b.pk])

    assert computed[store_b.pk].phantom_units == 7 + 4
    assert reconciliation_selectors.exposure_by_location()[store_b.pk] == 7 + 4


def test_exposure_is_recorded_only_when_it_changed(retailer):
    later = NOW + dt.timedelta(minutes=5)

    written = exposure.exposure_record(now=later)

    assert written == 0
    InventoryPosition.objects.filter(location=retailer["store_b"], sku="SKU-2", connector=retailer["shop"]).update(
        available=2
    )
    assert exposure.exposure_record(now=later) == 1
    assert list(
        ExposureSample.objects.filter(location=retailer["store_b"])
        .order_by("recorded_at")
        .values_list("phantom_units", flat=True)
    ) == [7, 5]


def test_worst_location_comes_first_and_each_tile_links_to_its_location(manager_client, retailer):
    html = manager_client.get(reverse("dashboard:home")).content.decode()

    assert _tile_codes(html) == ["STORE-B", "FC-1", "STORE-C"]
    assert reverse("dashboard:location-detail", args=[retailer["store_b"].pk]) in html
    assert '<span class="cls cls-stale" title="2 open stale">Stale 2</span>' in html
    assert '<span class="cls cls-drift" title="1 open drift">Drift 1</span>' in html
    assert "1 h 30 min" in html  # STORE-C's WMS → ERP p95
    assert "Europe/Berlin" in html


def test_sorting_swaps_only_the_tiles(manager_client, retailer):
    response = manager_client.get(
        reverse("dashboard:home") + "?sort=discrepancies", headers={"HX-Request": "true", "HX-Target": "location-tiles"}
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<section id="location-tiles"')
    assert "<html" not in html
    assert "HX-Target" in response["Vary"]
    assert _tile_codes(html) == ["STORE-C", "FC-1", "STORE-B"]  # 4, 3 and 0 open
    assert _tile_codes(manager_client.get(reverse("dashboard:home") + "?sort=name").content.decode()) == [
        "FC-1",
        "STORE-B",
        "STORE-C",
    ]
    assert _tile_codes(manager_client.get(reverse("dashboard:home") + "?sort=lag").content.decode())[0] == "STORE-C"


def test_exposure_chart_draws_a_step_line_per_location_and_the_total(manager_client, retailer):
    ExposureSample.objects.create(
        location=retailer["fc"], recorded_at=NOW + dt.timedelta(minutes=5), phantom_units=3, skus=1
    )

    response = manager_client.get(
        reverse("dashboard:home"), headers={"HX-Request": "true", "HX-Target": "exposure-chart"}
    )

    html = response.content.decode()
    figure = json.loads(re.search(r'<script id="fig-exposure" type="application/json">(.*?)</script>', html).group(1))
    names = [trace["name"] for trace in figure["data"]]
    assert names[-1] == "All locations"
    assert set(names[:-1]) == {"STORE-B", "FC-1", "STORE-C"}
    assert {trace["line"]["shape"] for trace in figure["data"]} == {"hv"}
    total = figure["data"][-1]["y"]
    assert total[-1] == 7 + 3 + 0


def test_connector_state_partial_refreshes_alone(manager_client, retailer):
    response = manager_client.get(
        reverse("dashboard:home"), headers={"HX-Request": "true", "HX-Target": "connector-state"}
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="connector-state"')
    assert 'hx-trigger="every 30s"' in html
    assert html.count("Healthy") == 3
    assert "location-tiles" not in html


def test_a_location_without_a_recorded_exposure_says_so(manager_client, retailer):
    LocationFactory(code="STORE-NEW", name="New store")

    html = manager_client.get(reverse("dashboard:home")).content.decode()

    assert "not measured yet" in html
    assert _tile_codes(html)[-1] == "STORE-NEW"


def test_empty_overview_says_what_to_do(manager_client):
    html = manager_client.get(reverse("dashboard:home")).content.decode()

    assert "No locations yet" in html
    assert "No exposure recorded yet" in html
    assert "No connectors yet" in html


def test_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(reverse("dashboard:home"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_user_without_a_role_is_refused(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="nobody"))

    assert client.get(reverse("dashboard:home")).status_code == 403
    assert (
        client.get(reverse("dashboard:home"), headers={"HX-Request": "true", "HX-Target": "location-tiles"}).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("target", "most"),
    [(None, 15), ("location-tiles", 11), ("exposure-chart", 10), ("connector-state", 7)],
)
def test_query_count_does_not_grow_with_locations(
    manager_client, retailer, django_assert_max_num_queries, target, most
):
    for n in range(6):  # more locations, each with discrepancies, samples and mapped connectors
        location = LocationFactory(code=f"EXTRA-{n}")
        LocationMapping.objects.create(connector=retailer["wms"], external_id=f"extra-{n}", location=location)
        _discrepancy(location, "SKU-1", "stale")
        ExposureSample.objects.create(location=location, recorded_at=NOW, phantom_units=n, skus=1)
    headers = {"HX-Request": "true", "HX-Target": target} if target else {}

    with django_assert_max_num_queries(most):
        response = manager_client.get(reverse("dashboard:home"), headers=headers)

    assert response.status_code == 200
    assert PollRun.objects.count() == 3


def test_after_a_poll_only_the_locations_it_changed_are_recorded(retailer):
    from inventory_hub.observations.models import PositionChange

    at = NOW + dt.timedelta(minutes=1)
    run = PollRunFactory(connector=retailer["shop"], status="succeeded", started_at=at, finished_at=at)
    InventoryPosition.objects.filter(connector=retailer["shop"]).update(available=20)  # every location moves
    PositionChange.objects.create(
        connector=retailer["shop"], location=retailer["fc"], sku="SKU-1", on_hand=20, allocated=0, available=20,
        incoming=0, changed_at=run.started_at, poll_run=run,
    )  # fmt: skip

    written = exposure.exposure_record_after_poll(poll_run_id=run.pk, now=run.started_at)

    assert written == 1
    assert ExposureSample.objects.filter(recorded_at=run.started_at).get().location == retailer["fc"]


def test_a_screenful_of_the_worst_locations_then_all_on_request(manager_client):
    for n in range(30):
        LocationFactory(code=f"STORE-{n:02d}")
    url = reverse("dashboard:home")

    first = manager_client.get(url, headers={"HX-Request": "true", "HX-Target": "location-tiles"}).content.decode()
    every = manager_client.get(url + "?show=all", headers={"HX-Request": "true", "HX-Target": "location-tiles"})

    assert first.count('<article class="tile') == 24
    assert "Show all 30 locations" in first
    assert every.content.decode().count('<article class="tile') == 30
