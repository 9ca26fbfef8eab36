"""factory-boy factories for the hub's models."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from inventory_hub.connectors.models import Connector, LocationMapping, PollRun
from inventory_hub.inventory.models import Channel, Location, Pool
from inventory_hub.observations.models import InventoryPosition


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct-horse-battery-staple")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"LOC-{n}")
    name = factory.Sequence(lambda n: f"Store {n}")
    kind = Location.Kind.STORE
    time_zone = "America/Chicago"


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"channel-{n}")
    name = factory.Sequence(lambda n: f"Channel {n}")


class PoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pool

    code = factory.Sequence(lambda n: f"pool-{n}")
    name = factory.Sequence(lambda n: f"Pool {n}")
    scope = Pool.Scope.LOCATION


class ConnectorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connector

    name = factory.Sequence(lambda n: f"Connector {n}")
    role = "wms"
    adapter = "shiphero"
    base_url = "https://wms.example.test"
    credentials = factory.LazyFunction(lambda: {"access_token": "test-token"})
    poll_interval_seconds = 60


class LocationMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LocationMapping

    connector = factory.SubFactory(ConnectorFactory)
    external_id = factory.Sequence(lambda n: f"ext-{n}")
    location = factory.SubFactory(LocationFactory)


class PollRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PollRun

    connector = factory.SubFactory(ConnectorFactory)
    started_at = factory.LazyFunction(timezone.now)


def position_create(connector, location, sku, *, on_hand, allocated=0, available=None, bin="", at) -> InventoryPosition:  # noqa: ANN001
    """What one system says about one key (or one WMS bin) at `at`: available defaults to on hand − allocated."""
    return InventoryPosition.objects.create(
        connector=connector,
        location=location,
        sku=sku,
        bin=bin,
        on_hand=on_hand,
        allocated=allocated,
        available=on_hand - allocated if available is None else available,
        observed_at=at,
        changed_at=at,
    )
