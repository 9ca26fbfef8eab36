"""Discrepancy timeline: filters, the chart computed in SQL, the list, paging and acknowledging."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from inventory_hub.core import roles
from inventory_hub.dashboard.selectors import discrepancies as selectors
from inventory_hub.observations.models import Order, OrderLine
from inventory_hub.reconciliation.models import Discrepancy
from inventory_hub.tracing.models import Oversell
from tests.factories import ConnectorFactory, LocationFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def ago(hours: float) -> dt.datetime:
    return NOW - dt.timedelta(hours=hours)


def discrepancy(location, sku, *, hop="wms_erp", cls="in_flight", opened=2.0, closed=None, **extra) -> Discrepancy:
    return Discrepancy.objects.create(
        location=location,
        sku=sku,
        hop=hop,
        classification=cls,
        opened_at=ago(opened),
        closed_at=ago(closed) if closed is not None else None,
        upstream_quantity=extra.pop("upstream", 4),
        downstream_quantity=extra.pop("downstream", 9),
        peak_gap=extra.pop("peak_gap", 5),
        **extra,
    )


def oversell(location, sku, *, hours, name) -> Oversell:
    connector = ConnectorFactory(name=f"Shop {name}", role="storefront", adapter="shopify")
    order = Order.objects.create(
        connector=connector, source_order_id=name, name=name, placed_at=ago(hours), observed_at=ago(hours)
    )
    line = OrderLine.objects.create(order=order, source_line_id="1", location=location, sku=sku, quantity=3)
    return Oversell.objects.create(
        order_line=line,
        location=location,
        sku=sku,
        ordered_at=ago(hours),
        quantity=3,
        shown=5,
        truth=1,
        shortfall=2,
        root_cause="sync_window_wms_erp",
        detected_at=ago(hours),
    )


@pytest.fixture
def world():
    store = LocationFactory(code="STORE-A", time_zone="America/Chicago")
    fc = LocationFactory(code="FC-1", time_zone="America/New_York")
    rows = {
        "open_a1": discrepancy(store, "SKU-1", opened=3, peak_gap=7),
        "open_a2": discrepancy(store, "SKU-2", hop="erp_storefront", cls="rule", opened=30),
        "closed_a1": discrepancy(store, "SKU-1", cls="stale", opened=50, closed=40),
        "open_fc": discrepancy(fc, "SKU-9", hop="wms_storefront", cls="boundary", opened=1),
    }
    manager = UserFactory(username="someone-else")
    rows["acked_fc"] = discrepancy(
        fc,
        "SKU-8",
        cls="drift",
        opened=5,
        acknowledged_at=ago(1),
        acknowledged_by=manager,
        acknowledgement_note="On it",
    )
    oversells = {
        "during": oversell(store, "SKU-1", hours=2, name="#1"),  # while open_a1 is open
        "before": oversell(store, "SKU-1", hours=45, name="#2"),  # while closed_a1 was open
        "elsewhere": oversell(fc, "SKU-1", hours=2, name="#3"),  # same SKU, other location
    }
    return {"store": store, "fc": fc, **rows, **oversells}


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def row_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="discrepancy-(\d+)"', response.content.decode())]


def test_default_lists_open_discrepancies_newest_first_with_the_chart(manager_client, world):
    response = manager_client.get(reverse("dashboard:discrepancy-list"))

    assert response.status_code == 200
    assert row_ids(response) == [world[k].pk for k in ("open_fc", "open_a1", "acked_fc", "open_a2")]
    body = response.content.decode()
    assert 'id="discrepancy-results"' in body
    assert 'data-figure="fig-open-discrepancies"' in body
    assert reverse("dashboard:sku-detail", args=[world["store"].pk, "SKU-1"]) in body
    page = text(response)
    assert "Open discrepancies 4" in page
    assert "✓ someone-else" in page
    assert "On it" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"location": "fc"}, ["open_fc", "acked_fc"]),
        ({"sku": "SKU-1", "state": "all"}, ["open_a1", "closed_a1"]),
        ({"classification": "rule"}, ["open_a2"]),
        ({"hop": "wms_storefront"}, ["open_fc"]),
        ({"state": "closed"}, ["closed_a1"]),
        ({"acknowledged": "yes"}, ["acked_fc"]),
        ({"acknowledged": "no", "location": "fc"}, ["open_fc"]),
        ({"period": "24h"}, ["open_fc", "open_a1", "acked_fc"]),
        ({"period": "7d", "state": "all"}, ["open_fc", "open_a1", "acked_fc", "open_a2", "closed_a1"]),
    ],
)
def test_filters(manager_client, world, query, expected):
    query = {k: (world[v].pk if k == "location" else v) for k, v in query.items()}

    response = manager_client.get(reverse("dashboard:discrepancy-list"), query)

    assert row_ids(response) == [world[k].pk for k in expected]


def test_opened_between_reads_times_in_the_locations_zone(manager_client, world):
    tz = world["store"].tzinfo
    since = ago(4).astimezone(tz).strftime("%Y-%m-%dT%H:%M")
    until = ago(2).astimezone(tz).strftime("%Y-%m-%dT%H:%M")

    response = manager_client.get(
        reverse("dashboard:discrepancy-list"), {"location": world["store"].pk, "since": since, "until": until}
    )

    assert row_ids(response) == [world["open_a1"].pk]


def test_a_range_that_ends_before_it_starts_says_so(manager_client, world):
    response = manager_client.get(
        reverse("dashboard:discrepancy-list"), {"since": "2026-03-03T10:00", "until": "2026-03-03T09:00"}
    )

    assert "Pick a time after “From”." in text(response)


def test_related_oversells_are_those_ordered_while_open(manager_client, world):
    response = manager_client.get(
        reverse("dashboard:discrepancy-list"), {"state": "all", "location": world["store"].pk}
    )
    body = response.content.decode()

    def links(key):
        row = re.search(rf'<tr id="discrepancy-{world[key].pk}".*?</tr>', body, re.S).group(0)
        return [int(pk) for pk in re.findall(r"/oversells/(\d+)/", row)]

    assert links("open_a1") == [world["during"].pk]
    assert links("closed_a1") == [world["before"].pk]
    assert links("open_a2") == []


def test_htmx_filter_returns_the_results_partial_and_paging_only_the_table(manager_client, world):
    url = reverse("dashboard:discrepancy-list")
    results = manager_client.get(
        url, {"state": "all"}, headers={"HX-Request": "true", "HX-Target": "discrepancy-results"}
    )
    table = manager_client.get(url, {"page": "1"}, headers={"HX-Request": "true", "HX-Target": "discrepancy-table"})

    assert results.content.decode().lstrip().startswith('<div id="discrepancy-results"')
    assert "<html" not in results.content.decode()
    assert table.content.decode().lstrip().startswith('<section class="card" id="discrepancy-table">')
    assert "data-figure" not in table.content.decode()
    assert "HX-Target" in results["Vary"]


def test_pages_server_side_and_links_keep_the_filters(manager_client, world):
    store = world["store"]
    for n in range(55):
        discrepancy(store, f"SKU-P{n:02d}", opened=0.01 * (n + 1))

    first = manager_client.get(reverse("dashboard:discrepancy-list"), {"location": store.pk})
    second = manager_client.get(reverse("dashboard:discrepancy-list"), {"location": store.pk, "page": "2"})

    assert len(row_ids(first)) == 50
    assert "1–50 of 57" in text(first)
    assert f'href="?location={store.pk}&amp;page=2"' in first.content.decode()
    assert len(row_ids(second)) == 7
    assert set(row_ids(first)).isdisjoint(row_ids(second))
    assert "51–57 of 57" in text(second)


def test_open_series_counts_each_bucket_in_sql(world):
    series = selectors.discrepancy_open_series(
        filters=selectors.DiscrepancyFilters(location_id=world["store"].pk), start=ago(60), end=NOW
    )

    assert series.step == dt.timedelta(hours=1)
    assert set(series.counts) == {"in_flight", "rule", "stale"}

    def open_at(hours_ago: float) -> dict[str, int]:
        index = max(i for i, start in enumerate(series.starts) if start <= ago(hours_ago))
        return {cls: counts[index] for cls, counts in series.counts.items() if counts[index]}

    assert open_at(45) == {"stale": 1}
    assert open_at(20) == {"rule": 1}
    assert open_at(0.5) == {"rule": 1, "in_flight": 1}


def test_open_series_is_reused_while_now_moves_within_its_bucket_grid(world, django_assert_num_queries):
    filters = selectors.DiscrepancyFilters(location_id=world["store"].pk)
    end = NOW.replace(minute=30, second=0)  # mid-bucket: one more second adds no bucket
    first = selectors.discrepancy_open_series(filters=filters, start=ago(50), end=end)  # hourly buckets

    with django_assert_num_queries(0):
        again = selectors.discrepancy_open_series(filters=filters, start=ago(50), end=end + dt.timedelta(seconds=1))

    assert again == first


def test_empty_states_say_what_to_do(manager_client, db):
    response = manager_client.get(reverse("dashboard:discrepancy-list"))
    page = text(response)

    assert "No open discrepancies: the WMS, ERP and storefront agree" in page
    assert "No discrepancy was open in this range" in page
    filtered = text(manager_client.get(reverse("dashboard:discrepancy-list"), {"sku": "NOPE"}))
    assert "No discrepancy matches these filters." in filtered


# --- acknowledging ------------------------------------------------------------------------------


def ack(client, d, note, htmx=True):
    headers = {"HX-Request": "true", "HX-Target": f"discrepancy-{d.pk}"} if htmx else {}
    return client.post(reverse("dashboard:discrepancy-acknowledge", args=[d.pk]), {"note": note}, headers=headers)


def test_acknowledge_with_a_note_re_renders_the_row(manager_client, world):
    d = world["open_a1"]

    response = ack(manager_client, d, "  Counting the bin again  ")

    assert response.status_code == 200
    d.refresh_from_db()
    assert d.acknowledgement_note == "Counting the bin again"
    assert d.acknowledged_by.username == "manager"
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="discrepancy-{d.pk}"')
    assert "✓ manager" in text(response)


def test_an_empty_note_is_refused_inline_and_changes_nothing(manager_client, world):
    d = world["open_a1"]

    response = ack(manager_client, d, "   ")

    assert response.status_code == 422
    assert "Add a note: what did you find, or who is on it?" in text(response)
    assert '<details class="ack-form" open>' in response.content.decode()
    d.refresh_from_db()
    assert d.acknowledged_at is None


def test_a_closed_discrepancy_says_so(manager_client, world):
    d = world["closed_a1"]

    response = ack(manager_client, d, "Looking")

    assert response.status_code == 422
    assert "This discrepancy has already closed." in text(response)
    d.refresh_from_db()
    assert d.acknowledged_at is None


def test_acknowledge_without_htmx_redirects_back(manager_client, world):
    d = world["open_a2"]

    response = ack(manager_client, d, "Rule change pending", htmx=False)

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:discrepancy-list")
    d.refresh_from_db()
    assert d.acknowledgement_note == "Rule change pending"


@pytest.mark.parametrize("role", [roles.FULFILLMENT_MANAGER, roles.OPS_LEAD, roles.ADMIN])
def test_every_role_reads_and_acknowledges(role_client, world, role):
    client = role_client(role)

    assert client.get(reverse("dashboard:discrepancy-list")).status_code == 200
    assert ack(client, world["open_fc"], "Seen").status_code == 200


def test_a_reader_without_the_acknowledge_permission_is_refused(client, world):
    user = UserFactory(username="reader")
    user.user_permissions.add(Permission.objects.get(codename="view_location"))
    client.force_login(user)

    listing = client.get(reverse("dashboard:discrepancy-list"))
    response = ack(client, world["open_fc"], "Seen")

    assert listing.status_code == 200
    assert "Acknowledge</summary>" not in listing.content.decode()
    assert response.status_code == 403
    world["open_fc"].refresh_from_db()
    assert world["open_fc"].acknowledged_at is None


def test_a_user_without_a_role_is_refused(client, world):
    client.force_login(UserFactory(username="nobody"))

    assert client.get(reverse("dashboard:discrepancy-list")).status_code == 403


def test_acknowledge_is_post_only(manager_client, world):
    url = reverse("dashboard:discrepancy-acknowledge", args=[world["open_fc"].pk])

    assert manager_client.get(url).status_code == 405


def test_query_counts_do_not_grow_with_rows(manager_client, world, django_assert_max_num_queries):
    store = world["store"]
    for n in range(40):
        discrepancy(store, f"SKU-Q{n:02d}", opened=0.01 * (n + 1))
        oversell(store, f"SKU-Q{n:02d}", hours=0.001 * (n + 1), name=f"#Q{n}")
    url = reverse("dashboard:discrepancy-list")
    # Session, user, permissions (2), navigation roles, location choices (validate + render),
    # count, page, related oversells, chart start (up to three bounded reads), chart.
    with django_assert_max_num_queries(14):
        response = manager_client.get(url, {"location": store.pk})
    assert len(row_ids(response)) == 42  # 40 + the two open ones
    assert len(re.findall(r"/oversells/\d+/", response.content.decode())) >= 40
    with django_assert_max_num_queries(9):
        manager_client.get(url, {"page": "1"}, headers={"HX-Request": "true", "HX-Target": "discrepancy-table"})
    # Auth (4) + navigation roles, the discrepancy, update, re-read (service), the row, its oversells.
    with django_assert_max_num_queries(10):
        ack(manager_client, world["open_a1"], "Seen")


@pytest.mark.parametrize(
    ("story", "made", "expected_hours_ago"),
    [
        ("nothing at all", [], None),
        ("still open since before the week", [(240, None)], 168),
        ("opened before the week, closed inside it", [(180, 150)], 168),
        ("opened and closed long before", [(720, 480)], None),
        ("long closed, then one opened two days ago", [(720, 480), (48, None)], 48),
        ("opened inside the week, closed since", [(30, 29)], 30),
    ],
)
def test_the_chart_starts_where_there_is_something_to_show(story, made, expected_hours_ago):
    location = LocationFactory()
    for n, (opened, closed) in enumerate(made):
        discrepancy(location, f"SKU-{n}", opened=opened, closed=closed)

    start = selectors.discrepancy_chart_start(
        filters=selectors.DiscrepancyFilters(location_id=location.pk), since=ago(168), until=NOW
    )

    assert start == (None if expected_hours_ago is None else ago(expected_hours_ago)), story
