from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from inventory_hub.inventory import selectors, services
from inventory_hub.inventory.models import AllocationRuleVersion, Pool
from inventory_hub.inventory.rules import RuleValues
from tests.factories import ChannelFactory, PoolFactory, UserFactory

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
