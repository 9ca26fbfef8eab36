from __future__ import annotations

import dataclasses
import datetime as dt
import functools

import pytest
from django.urls import reverse

from inventory_hub.inventory import services
from inventory_hub.inventory.models import AllocationRule
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.reconciliation import selectors as reconciliation_selectors
from inventory_hub.reconciliation.comparable import key_comparables
from inventory_hub.reconciliation.preview import phantom_after, rule_change_preview
from tests.factories import (
    ChannelFactory,
    ConnectorFactory,
    LocationFactory,
    LocationMappingFactory,
    PoolFactory,
    UserFactory,
    position_create,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


_position = functools.partial(position_create, at=T0)


@pytest.fixture
def shop():
    """Web pool at FC-1 and STORE-A with a web rule (safety stock 2); WMS, ERP and storefront positions.

    The WMS excludes QUARANTINE at FC-1, so its units are not promisable.
    """
    fc, store = LocationFactory(code="FC-1"), LocationFactory(code="STORE-A")
    wms = ConnectorFactory(name="WMS", role="wms")
    erp = ConnectorFactory(name="ERP", role="erp", adapter="erpnext")
    storefront = ConnectorFactory(name="Shop", role="storefront", adapter="shopify")
    LocationMappingFactory(connector=wms, external_id="W1", location=fc)
    pool = PoolFactory(name="Web pool")
    pool.locations.set([fc, store])
    boundary = pool.boundaries.create(connector=wms)
    boundary.entries.create(external_location_id="W1")
    boundary.entries.create(external_location_id="W1", bin="QUARANTINE", included=False)
    rule = services.allocation_rule_create(
        pool=pool,
        channel=ChannelFactory(name="Web"),
        values=RuleValues(safety_stock=2, channel_share_percent=100),
        author=UserFactory(username="olivia"),
        reason="Initial",
        now=T0,
    )
    # FC-1: SKU-1 WMS 20 (+5 in quarantine), storefront shows 18 (= expected ATP); SKU-2 WMS 3, shows 6.
    _position(wms, fc, "SKU-1", on_hand=25, allocated=0)
    _position(wms, fc, "SKU-1", on_hand=5, available=0, bin="QUARANTINE")
    _position(storefront, fc, "SKU-1", on_hand=18, available=18)
    _position(erp, fc, "SKU-1", on_hand=25)
    _position(wms, fc, "SKU-2", on_hand=4, allocated=1)
    _position(storefront, fc, "SKU-2", on_hand=6, available=6)
    # STORE-A: 30 SKUs with WMS 10, storefront 8 (enough keys for a bounded top list)
    for n in range(30):
        _position(wms, store, f"SKU-S{n:02d}", on_hand=10)
        _position(storefront, store, f"SKU-S{n:02d}", on_hand=8, available=8)
    # An ERP-only key: no WMS truth, no expected ATP
    _position(erp, store, "SKU-ERP-ONLY", on_hand=4)
    return {"rule": rule, "pool": pool, "fc": fc, "store": store, "wms": wms}


def _values(**changes):
    return dataclasses.replace(RuleValues(safety_stock=2, channel_share_percent=100), **changes)


def test_preview_totals_match_reconciliations_own_functions_key_by_key(shop):
    new = _values(safety_stock=5, channel_share_percent=80)

    preview = rule_change_preview(rule=shop["rule"], values=new, top=1000)

    connectors = reconciliation_selectors.reconciliation_connector_list()
    observations = reconciliation_selectors.key_observation_map(
        scope={shop["fc"].pk: None, shop["store"].pk: None},
        connectors=connectors,
        excluded_bins=reconciliation_selectors.wms_excluded_bin_map(connector_ids=[shop["wms"].pk]),
        rules={shop["fc"].pk: (_values(),), shop["store"].pk: (_values(),)},
    )
    atp_before = atp_after = phantom_before = phantom_total_after = keys = 0
    for observation in observations.values():
        if not observation.wms:
            continue
        keys += 1
        before = key_comparables(observation)
        after = key_comparables(dataclasses.replace(observation, rules=(new,)))
        atp_before += before.expected_atp_from_wms
        atp_after += after.expected_atp_from_wms
        shown = max((p.available for p in observation.storefronts), default=None)
        if shown is not None:
            phantom_before += max(0, shown - before.wms)
            phantom_total_after += phantom_after(
                shown=shown,
                wms=before.wms,
                atp_before=before.expected_atp_from_wms,
                atp_after=after.expected_atp_from_wms,
            )
    total = preview.total
    assert (total.keys, total.atp_before, total.atp_after, total.phantom_before, total.phantom_after) == (
        keys,
        atp_before,
        atp_after,
        phantom_before,
        phantom_total_after,
    )
    assert total.keys == 32  # the ERP-only key has no expected ATP
    assert total.atp_before == 18 + 1 + 30 * 8
    assert total.atp_after == 12 + 0 + 30 * 4  # (20-5)*0.8 = 12, (3-5) → 0, (10-5)*0.8 = 4
    assert total.phantom_before == 3  # SKU-2 shows 6 of 3
    assert len(preview.top) == 32


def test_preview_lists_a_bounded_top_with_the_biggest_phantom_change_first(shop):
    preview = rule_change_preview(rule=shop["rule"], values=_values(safety_stock=0), top=5)

    assert len(preview.top) == 5
    first = preview.top[0]
    # SKU-2 at FC-1: expected ATP 1 → 3, the storefront's 6 moves to 8 against WMS 3: phantom 3 → 5
    assert (first.location_code, first.sku, first.atp_before, first.atp_after) == ("FC-1", "SKU-2", 1, 3)
    assert (first.phantom_before, first.phantom_after) == (3, 5)
    assert [location.code for location in preview.locations] == ["FC-1", "STORE-A"]
    assert preview.locations[1].effect.keys_changed == 30


def test_a_rule_that_does_not_govern_changes_nothing(shop):
    # A more generous pool-wide rule at the same locations governs the storefront's number.
    services.allocation_rule_create(
        pool=shop["pool"], channel=None, values=RuleValues(safety_stock=0), author=UserFactory(), reason="x", now=T0
    )

    preview = rule_change_preview(rule=shop["rule"], values=_values(safety_stock=9))

    assert preview.total.keys_changed == 0
    assert preview.total.atp_before == preview.total.atp_after
    assert preview.locations[0].other_rules == 1


def test_preview_of_an_inactive_rule_says_it_governs_nothing(shop):
    AllocationRule.objects.filter(pk=shop["rule"].pk).update(is_active=False)
    rule = AllocationRule.objects.get(pk=shop["rule"].pk)

    assert rule_change_preview(rule=rule, values=_values(safety_stock=9)).rule_active is False


def _form(**values):
    data = {
        "safety_stock": 2,
        "channel_share_percent": 100,
        "channel_priority": 1,
        "pickup_reservation": 0,
        "reason": "",
    }
    data.update(values)
    return data


def test_preview_endpoint_shows_the_effect_and_field_messages_out_of_band(
    ops_client, shop, django_assert_max_num_queries
):
    url = reverse("dashboard:rule-preview", args=[shop["rule"].pk])
    ops_client.post(url, _form())

    with django_assert_max_num_queries(22):
        response = ops_client.post(url, _form(safety_stock=5), headers={"HX-Request": "true"})

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="rule-preview"')
    assert (
        '<span class="num">259</span><span class="arrow">→</span><span class="num" data-testid="atp-after">165</span>'
        in html
    )
    assert html.count('hx-swap-oob="true"') == 5  # one message per field, swapped next to its input
    assert "SKUs the change moves most" in html
    assert "SKU-2" in html


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"safety_stock": -1}, "Ensure this value is greater than or equal to 0."),
        ({"channel_share_percent": 140}, "Ensure this value is less than or equal to 100."),
        ({"channel_priority": 0}, "Ensure this value is greater than or equal to 1."),
    ],
    ids=["negative_safety_stock", "share_above_100", "priority_zero"],
)
def test_preview_endpoint_reports_impossible_values_next_to_the_field(ops_client, shop, values, message):
    response = ops_client.post(reverse("dashboard:rule-preview", args=[shop["rule"].pk]), _form(**values))

    html = response.content.decode()
    field = next(iter(values))
    assert f'<div class="msg" id="msg-{field}" hx-swap-oob="true"><p class="error">{message}</p></div>' in html
    assert "Fix the highlighted values to see their effect." in html


def test_channel_shares_of_a_pool_must_stay_within_100_percent(ops_client, shop):
    services.allocation_rule_update(
        rule=shop["rule"], values=_values(channel_share_percent=70), author=UserFactory(), reason="Make room", now=T0
    )
    services.allocation_rule_create(
        pool=shop["pool"],
        channel=ChannelFactory(name="Marketplace"),
        values=RuleValues(channel_share_percent=30),
        author=UserFactory(),
        reason="x",
        now=T0,
    )

    preview = ops_client.post(
        reverse("dashboard:rule-preview", args=[shop["rule"].pk]), _form(channel_share_percent=80)
    ).content.decode()
    save = ops_client.post(
        reverse("dashboard:rule-edit", args=[shop["rule"].pk]), _form(channel_share_percent=80, reason="More for web")
    )

    expected = "The pool&#x27;s other channels already take 30%; with this rule the shares would total 110%."
    assert expected in preview
    assert save.status_code == 422
    assert expected in save.content.decode()
    assert shop["rule"].versions.count() == 2


def test_unchanged_values_say_so(ops_client, shop):
    html = ops_client.post(reverse("dashboard:rule-preview", args=[shop["rule"].pk]), _form()).content.decode()

    assert "These are the values in force now: change one to compare." in html


def test_edit_page_loads_the_preview_lazily_and_shows_the_history(ops_client, shop):
    html = ops_client.get(reverse("dashboard:rule-edit", args=[shop["rule"].pk])).content.decode()

    assert 'hx-trigger="input changed delay:400ms"' in html
    assert 'hx-trigger="load"' in html
    assert "Version 1" in html
    assert "by olivia" in html


def test_saving_says_which_version_is_in_force(ops_client, shop):
    url = reverse("dashboard:rule-edit", args=[shop["rule"].pk])

    html = ops_client.post(url, _form(safety_stock=4, reason="Shrinkage"), follow=True).content.decode()

    assert "Saved as version 2: it is in force now." in html
    assert "Version 2" in html
    assert "“Shrinkage”" in html


@pytest.mark.parametrize("role", ["Fulfillment manager", None], ids=["manager", "anonymous"])
def test_preview_and_edit_are_refused_to_everyone_but_the_ops_lead(role_client, shop, role):
    client = role_client(role)
    rule = shop["rule"]

    statuses = [
        client.get(reverse("dashboard:rule-edit", args=[rule.pk])).status_code,
        client.post(reverse("dashboard:rule-edit", args=[rule.pk]), _form(safety_stock=9, reason="x")).status_code,
        client.post(reverse("dashboard:rule-preview", args=[rule.pk]), _form()).status_code,
    ]

    assert statuses == ([403, 403, 403] if role else [302, 302, 302])
    assert rule.versions.count() == 1


def test_rule_list_shows_edit_links_only_to_the_ops_lead(manager_client, ops_client, shop):
    url = reverse("dashboard:rule-list")

    assert "/edit/" not in manager_client.get(url).content.decode()
    assert f"/rules/{shop['rule'].pk}/edit/" in ops_client.get(url).content.decode()
