from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from inventory_hub.inventory import selectors, services
from inventory_hub.inventory.models import AllocationRuleVersion, Pool
from inventory_hub.inventory.rules import RuleValues
from tests.factories import ChannelFactory, ConnectorFactory, LocationFactory, PoolFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 11, 3, 14, 30, tzinfo=dt.UTC)


@pytest.fixture
def rule():
    author = UserFactory(username="olivia")
    return services.allocation_rule_create(
        pool=PoolFactory(),
        channel=ChannelFactory(code="web"),
        values=RuleValues(safety_stock=5, channel_share_percent=60),
        author=author,
        reason="Initial web rule",
        now=T0,
    )


def test_editing_a_rule_keeps_the_previous_version_with_author_time_and_reason(rule):
    editor = UserFactory(username="omar")

    services.allocation_rule_update(
        rule=rule,
        values=RuleValues(safety_stock=8, channel_share_percent=60),
        author=editor,
        reason="Shrinkage at Store B",
        now=T1,
    )

    first, second = rule.versions.order_by("number")
    assert (first.number, first.safety_stock, first.author_name, first.created_at, first.reason) == (
        1,
        5,
        "olivia",
        T0,
        "Initial web rule",
    )
    assert (second.number, second.safety_stock, second.author_name, second.created_at, second.reason) == (
        2,
        8,
        "omar",
        T1,
        "Shrinkage at Store B",
    )


def test_values_in_force_follow_the_version_effective_at_that_time(rule):
    services.allocation_rule_update(
        rule=rule,
        values=RuleValues(safety_stock=8, channel_share_percent=60),
        author=UserFactory(),
        reason="More buffer",
        now=T1,
    )

    assert selectors.allocation_rule_values(rule=rule, at=T0 + dt.timedelta(hours=1)).safety_stock == 5
    assert selectors.allocation_rule_values(rule=rule, at=T1).safety_stock == 8


def test_history_lists_old_and_new_values_newest_first(rule):
    services.allocation_rule_update(
        rule=rule,
        values=RuleValues(safety_stock=8, channel_share_percent=50),
        author=UserFactory(),
        reason="Marketplace needs more",
        now=T1,
    )

    history = selectors.allocation_rule_history(rule=rule)

    assert [entry.version.number for entry in history] == [2, 1]
    assert history[0].changes == [("Safety stock", 5, 8), ("Channel share (%)", 60, 50)]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        pytest.param(RuleValues(safety_stock=-1), "safety_stock", id="negative_safety_stock"),
        pytest.param(RuleValues(channel_share_percent=101), "channel_share_percent", id="share_over_100"),
        pytest.param(RuleValues(channel_priority=0), "channel_priority", id="priority_zero"),
        pytest.param(RuleValues(pickup_reservation=-3), "pickup_reservation", id="negative_pickup"),
    ],
)
def test_impossible_values_are_refused_and_nothing_is_written(rule, values, field):
    with pytest.raises(services.RuleValidationError) as refused:
        services.allocation_rule_update(rule=rule, values=values, author=UserFactory(), reason="Try")

    assert field in refused.value.errors
    assert rule.versions.count() == 1


def test_channel_shares_of_one_pool_may_not_exceed_100_percent(rule):
    with pytest.raises(services.RuleValidationError) as refused:
        services.allocation_rule_create(
            pool=rule.pool,
            channel=ChannelFactory(code="marketplace"),
            values=RuleValues(channel_share_percent=50),
            author=UserFactory(),
            reason="Add marketplace",
        )

    assert "total 110%" in refused.value.errors["channel_share_percent"]
    assert rule.pool.allocation_rules.count() == 1


def test_an_edit_without_a_reason_is_refused(rule):
    with pytest.raises(services.RuleValidationError) as refused:
        services.allocation_rule_update(
            rule=rule, values=RuleValues(safety_stock=9, channel_share_percent=60), author=UserFactory(), reason="  "
        )

    assert set(refused.value.errors) == {"reason"}
    assert rule.versions.count() == 1


def test_an_edit_that_changes_nothing_is_refused(rule):
    with pytest.raises(services.RuleValidationError):
        services.allocation_rule_update(
            rule=rule, values=RuleValues(safety_stock=5, channel_share_percent=60), author=UserFactory(), reason="Same"
        )

    assert rule.versions.count() == 1


def test_a_saved_version_cannot_be_changed_in_place(rule):
    version = rule.versions.get()
    version.safety_stock = 99

    with pytest.raises(ValidationError):
        version.save()

    assert AllocationRuleVersion.objects.get(pk=version.pk).safety_stock == 5


def test_database_rejects_a_channel_pool_without_a_channel():
    with pytest.raises(IntegrityError), transaction.atomic():
        Pool.objects.create(code="web", name="Web", scope=Pool.Scope.CHANNEL)

    assert Pool.objects.exists() is False


# Pools and boundaries ---------------------------------------------------------------------


@pytest.fixture
def pool_with_boundary():
    pool = PoolFactory(code="web-pool", name="Web pool")
    fc, store = LocationFactory(code="FC-1"), LocationFactory(code="STORE-A")
    pool.locations.set([fc])
    wms = ConnectorFactory(name="ShipHero")
    boundary = pool.boundaries.create(connector=wms)
    boundary.entries.create(external_location_id="W1")
    boundary.entries.create(external_location_id="W1", bin="QUARANTINE", included=False)
    return {"pool": pool, "fc": fc, "store": store, "wms": wms}


def test_pool_update_records_who_when_why_and_old_to_new(pool_with_boundary):
    pool, fc, store = pool_with_boundary["pool"], pool_with_boundary["fc"], pool_with_boundary["store"]
    definition = dataclasses.replace(
        services.PoolDefinition.of(pool), name="Web (FC + Store A)", location_ids=frozenset({fc.pk, store.pk})
    )

    change = services.pool_update(
        pool=pool, definition=definition, author=UserFactory(username="omar"), reason="Store A ships web orders", now=T1
    )

    pool.refresh_from_db()
    assert pool.name == "Web (FC + Store A)"
    assert set(pool.locations.values_list("code", flat=True)) == {"FC-1", "STORE-A"}
    assert (change.author_name, change.created_at, change.reason, change.subject) == (
        "omar",
        T1,
        "Store A ships web orders",
        "Pool definition",
    )
    assert change.changes == [["Name", "Web pool", "Web (FC + Store A)"], ["Locations", "FC-1", "FC-1, STORE-A"]]


def test_pool_update_refuses_a_channel_scope_without_channel_and_changes_nothing(pool_with_boundary):
    pool = pool_with_boundary["pool"]
    definition = dataclasses.replace(services.PoolDefinition.of(pool), scope=Pool.Scope.CHANNEL, channel_id=None)

    with pytest.raises(services.PoolValidationError) as raised:
        services.pool_update(pool=pool, definition=definition, author=UserFactory(), reason="")

    assert raised.value.errors == {
        "channel": "A channel-scoped pool needs a channel.",
        "reason": "Say why: the reason is kept in the pool's history.",
    }
    pool.refresh_from_db()
    assert pool.scope == Pool.Scope.LOCATION
    assert pool.changes.exists() is False


def test_boundary_update_adds_removes_and_flips_entries_in_one_recorded_change(pool_with_boundary):
    pool, wms = pool_with_boundary["pool"], pool_with_boundary["wms"]
    wanted = [
        services.BoundaryEntrySpec("W1"),
        services.BoundaryEntrySpec("W1", "QUARANTINE", included=True),
        services.BoundaryEntrySpec("W1", "DAMAGED", included=False),
    ]

    change = services.pool_boundary_update(
        pool=pool,
        connector_id=wms.pk,
        connector_name="ShipHero",
        entries=wanted,
        notes="Quarantine is sellable now",
        known_external_ids=["W1", "W2"],
        author=UserFactory(username="omar"),
        reason="New returns process",
        now=T1,
    )

    boundary = pool.boundaries.get(connector=wms)
    assert sorted(boundary.entries.values_list("external_location_id", "bin", "included")) == [
        ("W1", "", True),
        ("W1", "DAMAGED", False),
        ("W1", "QUARANTINE", True),
    ]
    assert change.changes == [
        ["W1 bin DAMAGED", None, "excluded"],
        ["W1 bin QUARANTINE", "excluded", "counted"],
        ["Notes", "none", "Quarantine is sellable now"],
    ]
    assert boundary.updated_by.username == "omar"


@pytest.mark.parametrize(
    ("entries", "errors"),
    [
        (
            [services.BoundaryEntrySpec("W9")],
            {"new_external_location_id": "The system has no location 'W9': its ids come from its location mappings."},
        ),
        (
            [services.BoundaryEntrySpec("W1"), services.BoundaryEntrySpec("W1")],
            {"new_bin": "W1 (whole site) is already in the boundary; change its row instead."},
        ),
        (
            [services.BoundaryEntrySpec("W2", included=False)],
            {"new_bin": "To leave all of W2 out, remove its row; an exclusion names a bin."},
        ),
    ],
    ids=["unknown_location", "duplicate", "site_exclusion"],
)
def test_boundary_update_refuses_impossible_entries(pool_with_boundary, entries, errors):
    pool, wms = pool_with_boundary["pool"], pool_with_boundary["wms"]

    with pytest.raises(services.PoolValidationError) as raised:
        services.pool_boundary_update(
            pool=pool,
            connector_id=wms.pk,
            connector_name="ShipHero",
            entries=entries,
            notes="",
            known_external_ids=["W1", "W2"],
            author=UserFactory(),
            reason="Why not",
        )

    assert raised.value.errors == errors
    assert pool.boundaries.get(connector=wms).entries.count() == 2
    assert pool.changes.exists() is False


def test_boundary_update_keeps_an_existing_entry_whose_mapping_is_gone(pool_with_boundary):
    pool, wms = pool_with_boundary["pool"], pool_with_boundary["wms"]

    services.pool_boundary_update(
        pool=pool,
        connector_id=wms.pk,
        connector_name="ShipHero",
        entries=[services.BoundaryEntrySpec("W1")],
        notes="",
        known_external_ids=[],
        author=UserFactory(),
        reason="Quarantine back in",
    )

    assert list(pool.boundaries.get(connector=wms).entries.values_list("bin", flat=True)) == [""]


def test_pool_channel_shares_reads_current_shares_in_one_query(django_assert_num_queries):
    pool = PoolFactory()
    author = UserFactory()
    for n, share in enumerate((20, 30, 10)):
        rule = services.allocation_rule_create(
            pool=pool,
            channel=ChannelFactory(code=f"c{n}"),
            values=RuleValues(channel_share_percent=share),
            author=author,
            reason="x",
            now=T0,
        )
    services.allocation_rule_update(
        rule=rule, values=RuleValues(channel_share_percent=40), author=author, reason="y", now=T1
    )

    with django_assert_num_queries(1):
        shares = selectors.pool_channel_shares(pool=pool, exclude_rule_id=None, at=T1)

    assert sorted(shares) == [20, 30, 40]
