"""Oversells: the plain-words root causes, the waterfall, the list and one trace."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.urls import reverse

from inventory_hub.core import roles
from inventory_hub.dashboard import explain
from inventory_hub.dashboard.selectors import oversells as oversell_selectors
from inventory_hub.observations.models import InventoryEvent, Order, OrderLine
from inventory_hub.reconciliation.models import Discrepancy, HopLagSample
from inventory_hub.tracing.models import Oversell, RootCause, TraceStep
from tests.factories import ConnectorFactory, LocationFactory, LocationMappingFactory, UserFactory

CHICAGO = "America/Chicago"
T0 = dt.datetime(2026, 3, 3, 16, 0, tzinfo=dt.UTC)  # 10:00 in Chicago (CST)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def facts(root_cause: str, **overrides) -> explain.TraceFacts:
    values = {
        "root_cause": root_cause,
        "ordered_at": at(11),
        "quantity": 3,
        "shown": 8,
        "truth": 1,
        "time_zone": CHICAGO,
        "origin": explain.Origin(kind="cycle_count", at=at(2), delta=-7),
    }
    return explain.TraceFacts(**(values | overrides))


# --- plain words: one sentence per root cause -------------------------------------------------


def test_every_root_cause_has_its_own_sentence():
    sentences = {cause: explain.root_cause_sentence(facts(cause)) for cause in RootCause.values}

    assert len(set(sentences.values())) == len(RootCause.values)
    for sentence in sentences.values():
        assert sentence.endswith(".")
        assert sentence[0].isupper()


def test_wms_erp_sync_window_names_the_window_the_event_and_the_local_times():
    sentence = explain.root_cause_sentence(
        facts(RootCause.SYNC_WINDOW_WMS_ERP, erp_window=explain.Window(seconds=900, measured=False))
    )

    assert sentence == (
        "The ERP's 15-minute sync window had not carried the cycle count of 10:02 "
        "when the order for 3 arrived at 10:11 CST, 9 minutes later."
    )


def test_wms_erp_sync_window_longer_than_the_window_says_a_sync_ran_late():
    sentence = explain.root_cause_sentence(
        facts(RootCause.SYNC_WINDOW_WMS_ERP, erp_window=explain.Window(seconds=60, measured=False), erp_missed=2)
    )

    assert sentence == (
        "The ERP had not carried the cycle count of 10:02 when the order for 3 arrived at 10:11 CST, 9 minutes "
        "later (2 ERP syncs in between ran without it): longer than the 1-minute window the hub reads it in, "
        "so an ERP sync ran late or failed."
    )


def test_wms_erp_sync_window_prefers_the_measured_lag():
    sentence = explain.root_cause_sentence(
        facts(RootCause.SYNC_WINDOW_WMS_ERP, erp_window=explain.Window(seconds=42 * 60, measured=True))
    )

    assert sentence.startswith("The ERP's sync window (about 42 minutes here, as measured) had not carried")


def test_erp_storefront_sync_window_says_when_the_erp_had_it():
    sentence = explain.root_cause_sentence(
        facts(
            RootCause.SYNC_WINDOW_ERP_STOREFRONT,
            erp_carried_at=at(5),
            storefront_window=explain.Window(seconds=600, measured=False),
        )
    )

    assert sentence == (
        "The ERP had the cycle count of 10:02 by 10:05, but the storefront's 10-minute sync window had not "
        "pulled it when the order for 3 arrived at 10:11 CST, 6 minutes after the ERP had it."
    )


def test_channel_allocation_names_the_channel_and_the_units():
    origin = explain.Origin(kind="channel_allocation", at=at(4), delta=5, channel="marketplace")

    sentence = explain.root_cause_sentence(facts(RootCause.CHANNEL_ALLOCATION, origin=origin))

    assert sentence == (
        "The WMS allocated 5 units to the marketplace channel at 10:04, but the storefront still showed 8 "
        "when the order for 3 arrived at 10:11 CST."
    )


def test_an_inferred_allocation_goes_to_another_channel():
    origin = explain.Origin(kind="channel_allocation", at=at(4), delta=1, inferred=True)

    sentence = explain.root_cause_sentence(facts(RootCause.CHANNEL_ALLOCATION, origin=origin))

    assert sentence.startswith("The WMS allocated 1 unit to another channel at 10:04")


def test_boundary_mismatch_counts_the_extra_units():
    sentence = explain.root_cause_sentence(facts(RootCause.BOUNDARY_MISMATCH, origin=None))

    assert sentence == (
        "The storefront counted stock in bins the WMS keeps out of the pool (quarantine, damaged): it showed 8, "
        "7 more than the 1 the WMS had available, when the order for 3 arrived at 10:11 CST."
    )


def test_rule_divergence_and_storefront_oversold():
    assert explain.root_cause_sentence(facts(RootCause.RULE_DIVERGENCE, origin=None)) == (
        "Every system had the latest count, but the storefront applied other allocation rules: it showed 8 "
        "where the WMS had 1 available when the order for 3 arrived at 10:11 CST."
    )
    assert explain.root_cause_sentence(facts(RootCause.STOREFRONT_OVERSOLD, shown=2, origin=None)) == (
        "The storefront showed only 2 but still accepted the order for 3 at 10:11 CST."
    )


def test_an_origin_on_the_day_before_carries_its_date():
    origin = explain.Origin(kind="receipt", at=T0 - dt.timedelta(hours=17), delta=-2)

    sentence = explain.root_cause_sentence(facts(RootCause.SYNC_WINDOW_WMS_ERP, origin=origin))

    assert "the receipt of Mar 2, 17:00 when" in sentence


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(900, "15-minute"), (60, "1-minute"), (3600, "1-hour"), (5400, "90-minute"), (90, "90-second")],
)
def test_window_words(seconds, words):
    assert explain.window_words(seconds) == words


# --- the waterfall --------------------------------------------------------------------------


def step(position, kind, system="", hop="", minutes=None, lag=None, quantity=None, detail=""):
    return explain.StepFacts(
        position=position,
        kind=kind,
        system=system,
        hop=hop,
        occurred_at=at(minutes) if minutes is not None else None,
        lag_seconds=lag,
        quantity=quantity,
        detail=detail,
    )


def test_waterfall_puts_the_origin_first_the_syncs_as_bars_and_the_order_as_points():
    steps = [
        step(1, "count_event", "wms", minutes=2, quantity=-7, detail="cycle_count: WMS available 8 → 1"),
        step(2, "missed_sync", "erp", "wms_erp", minutes=5),
        step(3, "sync", "erp", "wms_erp", minutes=8, lag=360),
        step(4, "missed_sync", "storefront", "erp_storefront"),
        step(5, "shown", "storefront", minutes=11, quantity=8),
        step(6, "order", "storefront", minutes=11, quantity=3),
        step(7, "shortfall", "wms", minutes=11, quantity=2),
        step(8, "cascade", "erp", minutes=31, quantity=-2, detail="ERP stock reconciliation"),
    ]

    waterfall = explain.waterfall(steps, ordered_at=at(11), time_zone=CHICAGO, truth=1)
    spans = {s.step.position: s for s in waterfall.spans}

    assert spans[1].left < spans[2].left + spans[2].width < spans[3].left + spans[3].width < waterfall.order_at
    assert spans[1].title == "WMS cycle count -7"
    assert spans[1].note == "WMS available 8 → 1"
    assert spans[1].lag == "9 min before the order"
    assert spans[3].lag == "carried after 6 min"
    assert spans[3].left == spans[1].left  # the sync's bar starts at the event it carried
    assert spans[4].title == "No storefront sync before the order"
    assert spans[4].lag == "no sync in 3 min"  # from when the ERP had it to the order
    assert [spans[n].point for n in (5, 6, 7, 8)] == [True, True, True, True]
    assert spans[7].title == "Short by 2 (WMS had 1)"
    assert spans[8].title == "ERP stock reconciliation -2"
    assert spans[8].lag == "20 min after the order"
    assert spans[8].left > waterfall.order_at
    assert [label for _, label, _ in waterfall.ticks][0] == "10:01"
    assert all(0 <= s.left <= 100 and s.left + s.width <= 100 for s in waterfall.spans)


def test_waterfall_labels_a_bar_across_the_lane_inside_it():
    steps = [
        step(1, "count_event", "wms", minutes=0, quantity=-3),
        step(2, "order", "storefront", minutes=30, quantity=2),
    ]

    spans = explain.waterfall(steps, ordered_at=at(30), time_zone=CHICAGO).spans

    assert spans[0].label_inside is True
    assert spans[1].label_inside is False
    assert spans[1].label_anchor == "end"  # the order sits at the right edge: its label goes left


# --- pages ------------------------------------------------------------------------------------


@pytest.fixture
def world(db):
    """Two locations, the three connectors (ERP polled every 15 minutes) and a few traced oversells."""
    store = LocationFactory(code="STORE-A", name="Store A", time_zone=CHICAGO)
    other = LocationFactory(code="FC-1", name="Fulfillment center", time_zone="America/New_York")
    wms = ConnectorFactory(name="WMS", role="wms", adapter="shiphero", poll_interval_seconds=60)
    erp = ConnectorFactory(name="ERP", role="erp", adapter="erpnext", poll_interval_seconds=900)
    storefront = ConnectorFactory(name="Shop", role="storefront", adapter="shopify", poll_interval_seconds=120)
    for connector in (wms, erp, storefront):
        LocationMappingFactory(connector=connector, location=store)
    count = InventoryEvent.objects.create(
        connector=wms,
        source_event_id="count-1",
        kind="cycle_count",
        location=store,
        sku="SKU-1",
        delta=-7,
        occurred_at=at(2),
        observed_at=at(3),
    )
    oversells = [
        _oversell(storefront, store, "SKU-1", 11, RootCause.SYNC_WINDOW_WMS_ERP, origin=count, name="#1001"),
        _oversell(storefront, store, "SKU-2", 20, RootCause.CHANNEL_ALLOCATION, name="#1002"),
        _oversell(storefront, other, "SKU-3", 30, RootCause.RULE_DIVERGENCE, name="#1003"),
        _oversell(storefront, other, "SKU-4", 40, RootCause.STOREFRONT_OVERSOLD, name="#1004", shown=1),
    ]
    trace = oversells[0]
    steps = [
        ("count_event", "wms", "", 2, None, -7, count, "cycle_count: WMS available 8 → 1"),
        ("missed_sync", "erp", "wms_erp", 5, None, None, None, "erp synced without it"),
        ("missed_sync", "storefront", "erp_storefront", None, None, None, None, "no storefront sync before the order"),
        ("shown", "storefront", "", 11, None, 8, None, "storefront available"),
        ("order", "storefront", "", 11, None, 3, None, "order for 3"),
        ("shortfall", "wms", "", 11, None, 2, None, "WMS available was 1"),
        ("cascade", "erp", "", 30, None, -2, None, "ERP stock reconciliation"),
        ("cascade", "wms", "", 50, None, 2, None, "Backflush from ERP"),
    ]
    TraceStep.objects.bulk_create(
        TraceStep(
            oversell=trace,
            position=n,
            kind=kind,
            system=system,
            hop=hop,
            occurred_at=at(minutes) if minutes is not None else None,
            lag_seconds=lag,
            quantity=quantity,
            event=event,
            detail=detail,
        )
        for n, (kind, system, hop, minutes, lag, quantity, event, detail) in enumerate(steps, start=1)
    )
    TraceStep.objects.create(
        oversell=oversells[1],
        position=1,
        kind="count_event",
        system="wms",
        occurred_at=at(15),
        quantity=4,
        detail="channel_allocation (inferred): WMS available 5 → 1",
    )
    related = Discrepancy.objects.create(
        location=store,
        sku="SKU-1",
        hop="wms_erp",
        classification="in_flight",
        opened_at=at(2.5),
        upstream_quantity=1,
        downstream_quantity=8,
        peak_gap=7,
    )
    Discrepancy.objects.create(  # closed before the origin: not related
        location=store,
        sku="SKU-1",
        hop="wms_erp",
        classification="stale",
        opened_at=at(-120),
        closed_at=at(-60),
        upstream_quantity=3,
        downstream_quantity=5,
        peak_gap=2,
    )
    return {"store": store, "other": other, "oversells": oversells, "trace": trace, "related": related}


def _oversell(connector, location, sku, minutes, cause, *, origin=None, name, shown=8):
    order = Order.objects.create(
        connector=connector,
        source_order_id=name,
        name=name,
        channel="web",
        placed_at=at(minutes),
        observed_at=at(minutes),
    )
    line = OrderLine.objects.create(order=order, source_line_id="1", location=location, sku=sku, quantity=3)
    return Oversell.objects.create(
        order_line=line,
        location=location,
        sku=sku,
        ordered_at=at(minutes),
        quantity=3,
        shown=shown,
        truth=1,
        shortfall=2,
        root_cause=cause,
        originating_event=origin,
        detected_at=at(minutes + 1),
    )


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def test_list_shows_each_oversell_with_its_root_cause_and_origin(manager_client, world):
    response = manager_client.get(reverse("dashboard:oversell-list"))

    assert response.status_code == 200
    page = text(response)
    assert page.count("Trace ›") == 4
    assert "Mar 3, 10:11 CST" in page  # in the location's zone
    assert "Cycle count 10:02, -7" in page
    assert "Allocation (inferred) 10:15, +4" in page
    assert "WMS → ERP sync window 1" in page  # the root-cause strip counts
    body = response.content.decode()
    assert reverse("dashboard:sku-detail", args=[world["store"].pk, "SKU-1"]) in body
    assert reverse("dashboard:oversell-detail", args=[world["trace"].pk]) in body


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"root_cause": RootCause.CHANNEL_ALLOCATION}, ["#1002"]),
        ({"location": "other"}, ["#1004", "#1003"]),
        ({"sku": "SKU-1"}, ["#1001"]),
        ({"since": "2026-03-03T10:15", "until": "2026-03-03T10:35", "location": "store"}, ["#1002"]),
    ],
)
def test_list_filters(manager_client, world, query, expected):
    query = {k: (world[v].pk if k == "location" else v) for k, v in query.items()}

    response = manager_client.get(reverse("dashboard:oversell-list"), query)

    assert re.findall(r"#100\d", text(response).split("Originating event", 1)[1]) == expected


def test_list_table_partial_for_paging(manager_client, world):
    response = manager_client.get(
        reverse("dashboard:oversell-list"), {"page": "1"}, headers={"HX-Request": "true", "HX-Target": "oversell-table"}
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="oversell-table">')
    assert "<html" not in body
    assert "HX-Target" in response["Vary"]


def test_list_pages_server_side(world):
    first = oversell_selectors.oversell_page(filters=oversell_selectors.OversellFilters(), page=1, per_page=3)
    second = oversell_selectors.oversell_page(filters=oversell_selectors.OversellFilters(), page=2, per_page=3)

    assert [r.oversell.order_line.order.name for r in first.rows] == ["#1004", "#1003", "#1002"]
    assert first.has_next
    assert not first.has_previous
    assert [r.oversell.order_line.order.name for r in second.rows] == ["#1001"]
    assert (second.first, second.last, second.total, second.has_next) == (4, 4, 4, False)


def test_empty_list_says_what_happens(manager_client, db):
    response = manager_client.get(reverse("dashboard:oversell-list"))

    assert "No oversells recorded." in text(response)


def test_trace_page_tells_the_root_cause_in_plain_words(manager_client, world):
    response = manager_client.get(reverse("dashboard:oversell-detail", args=[world["trace"].pk]))

    assert response.status_code == 200
    page = text(response)
    assert (
        "The ERP's 15-minute sync window had not carried the cycle count of 10:02 when the order for 3 arrived "
        "at 10:11 CST, 9 minutes later (1 ERP sync in between ran without it)." in page
    )
    for title in (
        "WMS cycle count -7",
        "ERP synced without it",
        "No storefront sync before the order",
        "Storefront showed 8",
        "Order for 3",
        "Short by 2 (WMS had 1)",
        "9 min before the order",
    ):
        assert title in page
    assert "7 phantom units" in page
    # Cascade loop: both events, after the order.
    cascade = page.split("Cascade loop after the oversell", 1)[1]
    assert "ERP stock reconciliation" in cascade
    assert "Backflush from ERP" in cascade
    # Related: the discrepancy open at the order, not the one that closed before the event.
    related = page.split("Discrepancies on this SKU here", 1)[1]
    assert "In flight" in related
    assert "Stale" not in related
    body = response.content.decode()
    assert reverse("dashboard:sku-detail", args=[world["store"].pk, "SKU-1"]) in body
    assert f"?location={world['store'].pk}&amp;sku=SKU-1&amp;state=all" in body


def test_trace_uses_the_measured_lag_when_there_is_one(manager_client, world):
    HopLagSample.objects.bulk_create(
        HopLagSample(
            location=world["store"],
            sku=f"SKU-{n}",
            hop="wms_erp",
            wms_changed_at=at(-60 - n),
            reflected_at=at(-60 - n + 40),
            lag_seconds=40 * 60,
            method="value_match",
        )
        for n in range(3)
    )

    response = manager_client.get(reverse("dashboard:oversell-detail", args=[world["trace"].pk]))

    assert "The ERP's sync window (about 40 minutes here, as measured) had not carried" in text(response)


def test_trace_of_an_allocation_without_event_row(manager_client, world):
    response = manager_client.get(reverse("dashboard:oversell-detail", args=[world["oversells"][1].pk]))

    page = text(response)
    assert "The WMS allocated 4 units to another channel at 10:15" in page
    assert "No cascade loop followed" in page


def test_unknown_oversell_is_404(manager_client, db):
    assert manager_client.get(reverse("dashboard:oversell-detail", args=[999])).status_code == 404


@pytest.mark.parametrize("role", [roles.FULFILLMENT_MANAGER, roles.OPS_LEAD, roles.ADMIN])
def test_every_role_reads_oversells(role_client, world, role):
    client = role_client(role)

    assert client.get(reverse("dashboard:oversell-list")).status_code == 200
    assert client.get(reverse("dashboard:oversell-detail", args=[world["trace"].pk])).status_code == 200


def test_a_user_without_a_role_is_refused(client, world):
    client.force_login(UserFactory(username="nobody"))

    assert client.get(reverse("dashboard:oversell-list")).status_code == 403
    assert client.get(reverse("dashboard:oversell-detail", args=[world["trace"].pk])).status_code == 403


def test_anonymous_users_log_in_first(client, world):
    response = client.get(reverse("dashboard:oversell-list"))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_query_counts_do_not_grow_with_rows(manager_client, world, django_assert_max_num_queries):
    # Many more rows than the fixture's four: an N+1 would add one query per row.
    storefront = world["trace"].order_line.order.connector
    for n in range(30):
        _oversell(storefront, world["other"], f"SKU-X{n}", 60 + n, RootCause.CHANNEL_ALLOCATION, name=f"#2{n:03d}")
    with django_assert_max_num_queries(10):
        manager_client.get(reverse("dashboard:oversell-list"))
    with django_assert_max_num_queries(8):
        manager_client.get(
            reverse("dashboard:oversell-list"),
            {"page": "1"},
            headers={"HX-Request": "true", "HX-Target": "oversell-table"},
        )
    # Session, user, permissions (2), navigation roles + oversell, steps, connectors, lags, discrepancies.
    with django_assert_max_num_queries(10):
        manager_client.get(reverse("dashboard:oversell-detail", args=[world["trace"].pk]))
