from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from inventory_hub.dashboard.selectors.pools import pool_comparison
from inventory_hub.inventory.models import PoolBoundary, PoolBoundaryEntry, PoolChange
from inventory_hub.observations.models import InventoryPosition
from tests.factories import ChannelFactory, ConnectorFactory, LocationFactory, LocationMappingFactory, PoolFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def retailer():
    """A web pool at FC-1 and STORE-A; the WMS excludes QUARANTINE, the ERP takes whole sites,
    the storefront covers only FC-1 and also STORE-C, which is not in the pool."""
    fc, store_a, store_c = (
        LocationFactory(code=code, name=name)
        for code, name in (("FC-1", "Fulfillment Center"), ("STORE-A", "Store A"), ("STORE-C", "Store C"))
    )
    wms = ConnectorFactory(name="ShipHero", role="wms", adapter="shiphero")
    erp = ConnectorFactory(name="ERPNext", role="erp", adapter="erpnext")
    shop = ConnectorFactory(name="Shopify", role="storefront", adapter="shopify")
    for connector, ids in (
        (wms, ("W1", "W2", "W3")),
        (erp, ("FC - ACME", "Store A - ACME", "Store C - ACME")),
        (shop, ("gid://1", "gid://2", "gid://3")),
    ):
        for external_id, location in zip(ids, (fc, store_a, store_c), strict=True):
            LocationMappingFactory(
                connector=connector, external_id=external_id, external_name=location.name, location=location
            )
    pool = PoolFactory(code="web-pool", name="Web pool", scope="channel", channel=ChannelFactory(name="Web"))
    pool.locations.set([fc, store_a])
    boundary = PoolBoundary.objects.create(pool=pool, connector=wms)
    for external_id in ("W1", "W2"):
        PoolBoundaryEntry.objects.create(boundary=boundary, external_location_id=external_id)
        PoolBoundaryEntry.objects.create(
            boundary=boundary, external_location_id=external_id, bin="QUARANTINE", included=False
        )
    boundary = PoolBoundary.objects.create(pool=pool, connector=erp)
    for external_id in ("FC - ACME", "Store A - ACME"):
        PoolBoundaryEntry.objects.create(boundary=boundary, external_location_id=external_id)
    boundary = PoolBoundary.objects.create(pool=pool, connector=shop)
    for external_id in ("gid://1", "gid://3"):
        PoolBoundaryEntry.objects.create(boundary=boundary, external_location_id=external_id)
    InventoryPosition.objects.create(
        connector=wms,
        location=fc,
        sku="SKU-1",
        bin="QUARANTINE",
        on_hand=7,
        allocated=0,
        available=0,
        observed_at=T0,
        changed_at=T0,
    )
    return {"pool": pool, "wms": wms, "erp": erp, "shop": shop, "fc": fc, "store_a": store_a, "store_c": store_c}


def test_mismatches_are_flagged_in_plain_words(retailer):
    messages = [m.message for m in pool_comparison(pool=retailer["pool"]).mismatches]

    assert "Shopify (Storefront) does not cover STORE-A, which the pool includes." in messages
    assert "Shopify (Storefront) counts 'Store C' (STORE-C), which is not in the pool." in messages
    assert (
        "ERPNext and Shopify take whole sites, so they count bin QUARANTINE at FC-1, which the WMS boundary "
        "excludes: units there show as boundary discrepancies." in messages
    )
    assert (
        "ERPNext takes whole sites, so it counts bin QUARANTINE at STORE-A, which the WMS boundary excludes: "
        "units there show as boundary discrepancies." in messages
    )
    assert len(messages) == 4


def test_a_system_excluding_a_bin_the_wms_counts_is_flagged(retailer):
    erp_boundary = PoolBoundary.objects.get(pool=retailer["pool"], connector=retailer["erp"])
    PoolBoundaryEntry.objects.create(
        boundary=erp_boundary, external_location_id="FC - ACME", bin="RETURNS-HOLD", included=False
    )

    messages = [m.message for m in pool_comparison(pool=retailer["pool"]).mismatches]

    assert "The WMS counts bin RETURNS-HOLD at FC-1, which ERPNext's boundary excludes." in messages


def test_unmapped_entries_and_missing_boundaries_are_flagged(retailer):
    PoolBoundary.objects.get(pool=retailer["pool"], connector=retailer["shop"]).delete()
    erp_boundary = PoolBoundary.objects.get(pool=retailer["pool"], connector=retailer["erp"])
    PoolBoundaryEntry.objects.create(boundary=erp_boundary, external_location_id="Old Depot - ACME")

    messages = [m.message for m in pool_comparison(pool=retailer["pool"]).mismatches]

    assert (
        "Shopify (Storefront) has no boundary for this pool yet: say which of its locations the pool takes." in messages
    )
    assert (
        "ERPNext (ERP) names 'Old Depot - ACME', which is not one of its known locations: its stock in this pool "
        "cannot be compared." in messages
    )


def test_pool_list_shows_each_system_beside_the_pool_with_few_queries(
    manager_client, retailer, django_assert_max_num_queries
):
    for n in range(4):  # more pools with boundaries: an N+1 would show in the count
        pool = PoolFactory(code=f"extra-{n}")
        pool.locations.set([retailer["fc"]])
        boundary = PoolBoundary.objects.create(pool=pool, connector=retailer["wms"])
        PoolBoundaryEntry.objects.create(boundary=boundary, external_location_id="W1")
    manager_client.get(reverse("dashboard:pool-list"))  # warm the session and permission caches

    with django_assert_max_num_queries(12):
        response = manager_client.get(reverse("dashboard:pool-list"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Web pool" in html
    assert "does not cover STORE-A, which the pool includes" in html
    assert html.count('class="card pool-card"') == 5
    assert 'td class="gap-boundary"' in html  # the storefront's cell at STORE-A differs
    assert "Edit" not in html  # a fulfillment manager reads only


def test_pool_list_paginates_through_htmx(manager_client):
    for n in range(12):
        PoolFactory(code=f"pool-{n:02d}", name=f"Pool {n:02d}")

    response = manager_client.get(
        reverse("dashboard:pool-list") + "?page=2", headers={"HX-Request": "true", "HX-Target": "pool-cards"}
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="pool-cards">')
    assert "Pool 10" in html
    assert "Pool 11" in html
    assert "Pool 09" not in html
    assert "Page 2 of 2" in html


def test_empty_pool_list_says_what_to_do(ops_client):
    html = ops_client.get(reverse("dashboard:pool-list")).content.decode()

    assert "No pools yet" in html
    assert "Admin › Pools › Add" in html


def test_detail_is_read_only_for_a_fulfillment_manager(manager_client, retailer):
    html = manager_client.get(reverse("dashboard:pool-detail", args=[retailer["pool"].pk])).content.decode()

    assert "Read-only: an ops lead edits pools and boundaries." in html
    assert "<form" not in html.split('id="pool-body"')[1]
    assert 'FC-1 QUARANTINE <strong class="num">7</strong>' in html  # units in the excluded bin now


@pytest.mark.parametrize("role", ["Fulfillment manager", None], ids=["manager", "anonymous"])
def test_edits_are_refused_to_everyone_but_the_ops_lead(role_client, retailer, role):
    client = role_client(role)
    pool = retailer["pool"]

    responses = [
        client.post(reverse("dashboard:pool-edit", args=[pool.pk]), {"pool-name": "Hacked", "pool-reason": "x"}),
        client.post(
            reverse("dashboard:pool-boundary-edit", args=[pool.pk, retailer["shop"].pk]),
            {f"b{retailer['shop'].pk}-reason": "x"},
        ),
    ]

    assert [r.status_code for r in responses] == ([403, 403] if role else [302, 302])
    pool.refresh_from_db()
    assert pool.name == "Web pool"
    assert PoolChange.objects.exists() is False


def _definition(retailer, **changes):
    data = {
        "pool-name": "Web pool",
        "pool-scope": "channel",
        "pool-channel": retailer["pool"].channel_id,
        "pool-fulfillment_method": "",
        "pool-locations": [retailer["fc"].pk, retailer["store_a"].pk],
        "pool-description": "",
        "pool-reason": "",
    }
    data.update({f"pool-{key}": value for key, value in changes.items()})
    return data


def test_ops_lead_edits_the_pool_and_the_history_says_who_when_why(ops_client, retailer):
    pool = retailer["pool"]
    data = _definition(
        retailer,
        locations=[retailer["fc"].pk, retailer["store_a"].pk, retailer["store_c"].pk],
        reason="Store C ships web orders from Monday",
    )

    response = ops_client.post(
        reverse("dashboard:pool-edit", args=[pool.pk]), data, headers={"HX-Request": "true", "HX-Target": "pool-body"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="pool-body">')
    assert "The pool definition was saved." in html
    assert set(pool.locations.values_list("code", flat=True)) == {"FC-1", "STORE-A", "STORE-C"}
    change = PoolChange.objects.get(pool=pool)
    assert (change.author_name, change.reason, change.connector_id) == (
        "opslead",
        "Store C ships web orders from Monday",
        None,
    )
    assert change.changes == [["Locations", "FC-1, STORE-A", "FC-1, STORE-A, STORE-C"]]
    assert "Store C ships web orders from Monday" in html
    assert "FC-1, STORE-A, STORE-C" in html
    # Now ShipHero and ERPNext miss STORE-C
    assert "ShipHero (WMS) does not cover STORE-C, which the pool includes." in html


@pytest.mark.parametrize(
    ("changes", "field_error"),
    [
        ({"channel": "", "reason": "Drop the channel"}, "A channel-scoped pool needs a channel."),
        ({"locations": [], "reason": "Empty it"}, "A pool holds stock of at least one location."),
        ({"name": "Web pool 2"}, "This field is required."),  # no reason
        ({"reason": "Same as before"}, "Nothing changed."),
    ],
    ids=["channel_scope_without_channel", "no_location", "no_reason", "nothing_changed"],
)
def test_impossible_pool_edits_are_refused_inline(ops_client, retailer, changes, field_error):
    pool = retailer["pool"]

    response = ops_client.post(
        reverse("dashboard:pool-edit", args=[pool.pk]),
        _definition(retailer, **changes),
        headers={"HX-Request": "true", "HX-Target": "pool-body"},
    )

    assert response.status_code == 422
    assert field_error in response.content.decode()
    assert PoolChange.objects.exists() is False
    assert pool.locations.count() == 2


def _boundary(retailer, connector, **fields):
    pool = retailer["pool"]
    prefix = f"b{connector.pk}"
    data = {
        f"{prefix}-entry_{e.pk}": "in" if e.included else "out"
        for e in PoolBoundaryEntry.objects.filter(boundary__pool=pool, boundary__connector=connector)
    }
    data.update(
        {
            f"{prefix}-new_external_location_id": "",
            f"{prefix}-new_bin": "",
            f"{prefix}-new_state": "in",
            f"{prefix}-notes": "",
            f"{prefix}-reason": "",
        }
    )
    data.update({f"{prefix}-{key}": value for key, value in fields.items()})
    return data


def test_ops_lead_redraws_the_storefront_boundary(ops_client, retailer):
    shop, pool = retailer["shop"], retailer["pool"]
    store_c = PoolBoundaryEntry.objects.get(boundary__connector=shop, external_location_id="gid://3")
    data = _boundary(
        retailer,
        shop,
        new_external_location_id="gid://2",
        reason="Store A sells online now",
        **{f"entry_{store_c.pk}": "remove"},
    )

    response = ops_client.post(
        reverse("dashboard:pool-boundary-edit", args=[pool.pk, shop.pk]),
        data,
        headers={"HX-Request": "true", "HX-Target": "pool-body"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert sorted(
        PoolBoundaryEntry.objects.filter(boundary__connector=shop).values_list("external_location_id", flat=True)
    ) == ["gid://1", "gid://2"]
    change = PoolChange.objects.get(pool=pool)
    assert change.subject == "Shopify boundary"
    assert change.changes == [["gid://3 (whole site)", "counted", None], ["gid://2 (whole site)", None, "counted"]]
    assert "does not cover STORE-A" not in html
    assert PoolBoundary.objects.get(pool=pool, connector=shop).updated_by.username == "opslead"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"new_external_location_id": "W1", "new_bin": "QUARANTINE", "new_state": "out", "reason": "dup"},
            "W1 bin QUARANTINE is already in the boundary",
        ),
        (
            {"new_external_location_id": "W3", "new_state": "out", "reason": "Out"},
            "To leave all of W3 out, remove its row; an exclusion names a bin.",
        ),
        ({"new_external_location_id": "W3"}, "This field is required."),
    ],
    ids=["duplicate", "site_exclusion", "no_reason"],
)
def test_impossible_boundary_edits_are_refused_inline(ops_client, retailer, fields, message):
    wms, pool = retailer["wms"], retailer["pool"]

    response = ops_client.post(
        reverse("dashboard:pool-boundary-edit", args=[pool.pk, wms.pk]),
        _boundary(retailer, wms, **fields),
        headers={"HX-Request": "true", "HX-Target": "pool-body"},
    )

    assert response.status_code == 422
    assert message in response.content.decode()
    assert PoolBoundaryEntry.objects.filter(boundary__connector=wms).count() == 4
    assert PoolChange.objects.exists() is False


def test_detail_page_query_count_does_not_grow_with_entries(ops_client, retailer, django_assert_max_num_queries):
    boundary = PoolBoundary.objects.get(pool=retailer["pool"], connector=retailer["wms"])
    for n in range(10):
        PoolBoundaryEntry.objects.create(boundary=boundary, external_location_id="W1", bin=f"B{n}", included=False)
    ops_client.get(reverse("dashboard:pool-detail", args=[retailer["pool"].pk]))

    with django_assert_max_num_queries(17):
        response = ops_client.get(reverse("dashboard:pool-detail", args=[retailer["pool"].pk]))

    assert response.status_code == 200
    assert "Save ShipHero boundary" in response.content.decode()
