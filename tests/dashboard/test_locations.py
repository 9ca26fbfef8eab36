"""The location grid (filters, pagination, gaps, freshness, expected ATP) and the SKU detail."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from inventory_hub.dashboard.selectors.locations import sku_url_maker
from inventory_hub.inventory import services as inventory_services
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.observations.models import InventoryEvent, InventoryPosition, PositionChange
from inventory_hub.reconciliation.models import Discrepancy
from tests.factories import ChannelFactory, ConnectorFactory, LocationFactory, PollRunFactory, PoolFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=30)


@pytest.fixture(autouse=True)
def _clock_30_minutes_after_the_data():
    # NOW is fixed at import; the suite may reach these tests minutes later, and ages are asserted.
    with time_machine.travel(NOW + dt.timedelta(minutes=30), tick=False):
        yield


def _position(connector, location, sku, *, on_hand, allocated=0, available=None, changed_at=NOW, bin_name=""):
    values = {
        "on_hand": on_hand,
        "allocated": allocated,
        "available": on_hand - allocated if available is None else available,
    }
    InventoryPosition.objects.create(
        connector=connector,
        location=location,
        sku=sku,
        bin=bin_name,
        observed_at=changed_at,
        changed_at=changed_at,
        **values,
    )
    PositionChange.objects.create(
        connector=connector, location=location, sku=sku, bin=bin_name, incoming=0, changed_at=changed_at, **values
    )


@pytest.fixture
def store():
    """STORE-A: WMS, ERP and storefront for SKU-001…SKU-012; SKU-003 has an open stale gap, SKU-007 a boundary one."""
    location = LocationFactory(code="STORE-A", name="Store A", time_zone="Europe/Berlin")
    wms = ConnectorFactory(name="ShipHero", role="wms", adapter="shiphero", poll_interval_seconds=60)
    erp = ConnectorFactory(name="ERPNext", role="erp", adapter="erpnext", poll_interval_seconds=300)
    shop = ConnectorFactory(name="Shopify", role="storefront", adapter="shopify", poll_interval_seconds=120)
    pool = PoolFactory()
    pool.locations.add(location)
    inventory_services.allocation_rule_create(
        pool=pool, channel=ChannelFactory(), values=RuleValues(safety_stock=2), author=UserFactory(), reason="Start",
        now=NOW - dt.timedelta(days=1),
    )  # fmt: skip
    for n in range(1, 13):
        sku = f"SKU-{n:03d}"
        _position(wms, location, sku, on_hand=20 + n, allocated=3)
        _position(
            erp,
            location,
            sku,
            on_hand=20 + n + (4 if n == 3 else 0),
            allocated=3,
            changed_at=NOW - dt.timedelta(hours=2),
        )
        _position(shop, location, sku, on_hand=20 + n, available=20 + n - 3 - 2 + (6 if n == 3 else 0))
    for _role, connector in (("wms", wms), ("erp", erp), ("storefront", shop)):
        PollRunFactory(connector=connector, status="succeeded", started_at=NOW, finished_at=NOW)
    opened = NOW - dt.timedelta(hours=1)
    for sku, hop, cls, up, down in (
        ("SKU-003", "wms_erp", "stale", 20, 24),
        ("SKU-003", "wms_storefront", "stale", 16, 22),
        ("SKU-007", "wms_erp", "boundary", 24, 26),
    ):
        Discrepancy.objects.create(
            location=location, sku=sku, hop=hop, classification=cls, opened_at=opened,
            upstream_quantity=up, downstream_quantity=down, peak_gap=abs(down - up),
        )  # fmt: skip
    return {"location": location, "wms": wms, "erp": erp, "shop": shop}


def _grid_url(store, query=""):
    return reverse("dashboard:location-detail", args=[store["location"].pk]) + query


def _grid(client, store, query=""):
    response = client.get(_grid_url(store, query), headers={"HX-Request": "true", "HX-Target": "position-grid"})
    assert response.status_code == 200
    return response.content.decode()


def _skus(html: str) -> list[str]:
    return re.findall(r'<td class="sku mono"><a href="[^"]+">([^<]+)</a>', html)


def _row(html: str, sku: str) -> str:
    return re.search(rf'<tr>\s*<td class="sku mono"><a href="[^"]+">{sku}</a>.*?</tr>', html, re.S).group(0)


def test_grid_shows_each_system_side_by_side_with_expected_atp(manager_client, store):
    html = manager_client.get(_grid_url(store)).content.decode()

    assert "<h1>" in html
    row = _row(html, "SKU-003")
    numbers = [int(n) for n in re.findall(r'<td class="num[^"]*"[^>]*>(?:<strong[^>]*>)?(-?\d+)', row)]
    # WMS on hand, allocated, available; ERP; storefront; expected ATP (available − safety stock 2); phantom
    assert numbers == [23, 3, 20, 24, 24, 18, 4]
    assert 'class="num start gap-stale"' in row  # the ERP cell and the storefront cell
    assert row.count("gap-stale") == 3  # ERP, storefront and expected ATP
    assert "WMS → ERP <strong>+4</strong>, End to end <strong>+6</strong>" in row


def test_gap_class_highlights_follow_the_open_discrepancies(manager_client, store):
    html = _grid(manager_client, store)

    assert "gap-boundary" in _row(html, "SKU-007")
    assert "gap-" not in _row(html, "SKU-001")


def test_age_of_each_system_is_its_last_successful_poll_not_the_position(manager_client, store):
    # The ERP's positions last changed two hours ago, but a poll 30 minutes ago confirmed them;
    # a later failed poll does not make them fresher.
    PollRunFactory(
        connector=store["erp"],
        status="failed",
        started_at=NOW + dt.timedelta(minutes=20),
        finished_at=NOW + dt.timedelta(minutes=21),
    )

    html = _grid(manager_client, store)

    assert html.count("as of 30 min ago") == 3
    assert 'class="age old"' in html  # WMS polls every minute: 30 minutes is 30 polls behind
    assert "(2 h 30 min)" in _row(html, "SKU-001")  # the ERP's last sync that changed this number


def test_only_discrepant_and_class_filters(manager_client, store):
    assert _skus(_grid(manager_client, store, "?discrepant=1")) == ["SKU-003", "SKU-007"]
    assert _skus(_grid(manager_client, store, "?class=boundary")) == ["SKU-007"]
    assert _skus(_grid(manager_client, store, "?class=not-a-class")) == [f"SKU-{n:03d}" for n in range(1, 13)]


def test_sku_search_and_empty_result(manager_client, store):
    assert _skus(_grid(manager_client, store, "?q=sku-01")) == ["SKU-010", "SKU-011", "SKU-012"]
    html = _grid(manager_client, store, "?q=nothing-like-it")
    assert "No SKU here matches these filters" in html


def test_pages_are_cut_in_sql(manager_client, store, monkeypatch):
    from inventory_hub.dashboard.selectors import locations

    monkeypatch.setattr(locations, "PER_PAGE", 5)

    html = _grid(manager_client, store, "?page=2")

    assert _skus(html) == ["SKU-006", "SKU-007", "SKU-008", "SKU-009", "SKU-010"]
    assert "Page 2 of 3" in html
    assert 'hx-push-url="true"' in html
    assert 'href="?page=3"' in html
    assert 'href="?page=1"' in html
    assert 'href="?q=SKU&amp;page=2"' in _grid(manager_client, store, "?q=SKU")
    assert _skus(_grid(manager_client, store, "?page=99")) == ["SKU-011", "SKU-012"]  # past the end: the last page


def test_grid_partial_refreshes_itself_with_its_filters(manager_client, store):
    response = manager_client.get(
        _grid_url(store, "?discrepant=1&q=SKU"), headers={"HX-Request": "true", "HX-Target": "position-grid"}
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<section id="position-grid"')
    assert "<html" not in html
    assert "HX-Target" in response["Vary"]
    assert 'hx-get="/locations/' in html
    assert 'discrepant=1&amp;q=SKU" hx-trigger="every 30s"' in html


def test_empty_location_says_what_to_do(manager_client):
    location = LocationFactory(code="EMPTY")

    html = manager_client.get(reverse("dashboard:location-detail", args=[location.pk])).content.decode()

    assert "No system reports stock at EMPTY yet" in html


def test_unknown_location_is_404(manager_client):
    assert manager_client.get(reverse("dashboard:location-detail", args=[999999])).status_code == 404


@pytest.mark.parametrize("role", [None, "nobody"])
def test_grid_and_sku_detail_need_the_view_permission(client, store, role):
    if role:
        client.force_login(UserFactory(username=role))
    urls = [
        _grid_url(store),
        reverse("dashboard:sku-detail", args=[store["location"].pk, "SKU-003"]),
    ]

    statuses = [client.get(url).status_code for url in urls]

    assert statuses == ([302, 302] if role is None else [403, 403])


def test_grid_query_count_does_not_grow_with_the_page(manager_client, store, django_assert_max_num_queries):
    for n in range(13, 60):  # a full page of 50 SKUs, with bins and open discrepancies
        sku = f"SKU-{n:03d}"
        _position(store["wms"], store["location"], sku, on_hand=n)
        _position(store["wms"], store["location"], sku, on_hand=1, bin_name="quarantine")
        _position(store["shop"], store["location"], sku, on_hand=n, available=n)
        Discrepancy.objects.create(
            location=store["location"], sku=sku, hop="wms_storefront", classification="in_flight", opened_at=NOW,
            upstream_quantity=n - 2, downstream_quantity=n, peak_gap=2,
        )  # fmt: skip

    for query in ("", "?discrepant=1", "?q=SKU-0&page=2"):
        with django_assert_max_num_queries(19):
            html = _grid(manager_client, store, query)
        assert _skus(html)


# --- SKU detail ------------------------------------------------------------------------------------


def _sku_url(store, sku="SKU-003", query=""):
    return reverse("dashboard:sku-detail", args=[store["location"].pk, sku]) + query


@pytest.fixture
def history(store):
    """SKU-003's WMS fell from 20 to 14 available after a cycle count an hour ago; the others never followed."""
    counted = NOW - dt.timedelta(hours=1)
    InventoryEvent.objects.create(
        connector=store["wms"], source_event_id="count-1", kind="cycle_count", location=store["location"], sku="SKU-003",
        delta=-6, quantity_after=17, occurred_at=counted, observed_at=counted + dt.timedelta(minutes=1),
    )  # fmt: skip
    InventoryEvent.objects.create(
        connector=store["wms"], source_event_id="pick-1", kind="pick", location=store["location"], sku="SKU-003",
        delta=-1, occurred_at=counted, observed_at=counted,
    )  # fmt: skip
    PositionChange.objects.filter(location=store["location"], sku="SKU-003").update(
        changed_at=NOW - dt.timedelta(hours=3)
    )
    PositionChange.objects.create(
        connector=store["wms"], location=store["location"], sku="SKU-003", on_hand=17, allocated=3, available=14,
        incoming=0, changed_at=counted + dt.timedelta(minutes=1),
    )  # fmt: skip
    return counted


def test_sku_history_draws_step_lines_with_count_events_marked(manager_client, store, history):
    html = manager_client.get(_sku_url(store)).content.decode()

    figure = json.loads(
        re.search(r'<script id="fig-sku-history" type="application/json">(.*?)</script>', html).group(1)
    )
    lines = {trace["name"]: trace for trace in figure["data"] if trace["mode"] == "lines"}
    assert set(lines) == {"WMS available", "ERP on hand − reserved", "Storefront available"}
    assert {trace["line"]["shape"] for trace in lines.values()} == {"hv"}
    assert lines["WMS available"]["y"] == [20, 14, 14]
    markers = [trace for trace in figure["data"] if trace["name"] == "WMS count events"]
    assert markers[0]["text"] == ["Cycle count -6 → on hand 17"]  # the pick is not a count event
    # In the location's zone (Berlin), without an offset.
    assert markers[0]["x"] == [history.astimezone(store["location"].tzinfo).strftime("%Y-%m-%d %H:%M:%S")]


def test_sku_detail_lists_discrepancies_and_links_the_timeline(manager_client, store):
    html = manager_client.get(_sku_url(store)).content.decode()

    assert html.count('<span class="cls cls-stale">Stale</span>') == 2
    assert f"?location={store['location'].pk}&amp;sku=SKU-003" in html
    assert "No oversell of this SKU here" in html


def test_belief_at_answers_what_each_system_believed_then(manager_client, store, history):
    before = (history - dt.timedelta(minutes=30)).astimezone(store["location"].tzinfo).strftime("%Y-%m-%dT%H:%M")

    response = manager_client.get(
        _sku_url(store, query=f"?at={before}"), headers={"HX-Request": "true", "HX-Target": "belief-at"}
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="belief-at"')
    comparables = re.findall(r'<td class="num"><strong>(\d+)</strong></td>', html)
    assert comparables == ["20", "24", "24"]  # WMS, ERP, storefront
    assert "The storefront promised <strong>4</strong> units more than the WMS had available (20)" in html


def test_belief_at_after_the_count(manager_client, store, history):
    after = (history + dt.timedelta(minutes=5)).isoformat()

    html = manager_client.get(
        _sku_url(store, query=f"?at={after}"), headers={"HX-Request": "true", "HX-Target": "belief-at"}
    ).content.decode()

    assert re.findall(r'<td class="num"><strong>(\d+)</strong></td>', html)[0] == "14"
    assert "<strong>10</strong> units more than the WMS had available (14)" in html


def test_belief_at_rejects_a_malformed_time_inline(manager_client, store):
    response = manager_client.get(
        _sku_url(store, query="?at=yesterday"), headers={"HX-Request": "true", "HX-Target": "belief-at"}
    )

    assert response.status_code == 422
    assert 'role="alert"' in response.content.decode()


def test_unknown_sku_is_404(manager_client, store):
    assert manager_client.get(_sku_url(store, sku="NOT-HERE")).status_code == 404


@pytest.mark.parametrize(("target", "most"), [(None, 29), ("belief-at", 13), ("sku-history", 13)])
def test_sku_detail_query_count(manager_client, store, history, django_assert_max_num_queries, target, most):
    for n in range(20):  # more history, events and discrepancies on the key
        PositionChange.objects.create(
            connector=store["shop"], location=store["location"], sku="SKU-003", on_hand=30, allocated=0, available=n,
            incoming=0, changed_at=NOW - dt.timedelta(minutes=50 - n),
        )  # fmt: skip
        InventoryEvent.objects.create(
            connector=store["wms"], source_event_id=f"adj-{n}", kind="adjustment", location=store["location"],
            sku="SKU-003", delta=1, occurred_at=NOW - dt.timedelta(minutes=50 - n), observed_at=NOW,
        )  # fmt: skip
    headers = {"HX-Request": "true", "HX-Target": target} if target else {}

    with django_assert_max_num_queries(most):
        response = manager_client.get(_sku_url(store), headers=headers)

    assert response.status_code == 200


@pytest.mark.parametrize("sku", ["SKU-1", "a b/c", "50%-off", "ü-ß", "x?y#z&w=1", "+plus", "~tilde:@"])
def test_grid_links_each_sku_page_exactly_as_reverse_does(sku):
    assert sku_url_maker(7)(sku) == reverse("dashboard:sku-detail", args=[7, sku])
