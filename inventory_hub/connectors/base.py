"""The adapter interface every product package implements, its records, and the errors it raises.

Adapters speak one product's real API and yield normalized, frozen records, page by page; the
poll pipeline (observations) stores them. An adapter never sees an ORM object: it gets a
`ConnectorConfig`. Errors say whether retrying can help.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Generic, TypeVar

import httpx


class ConnectorError(Exception):
    """Base for every failure an adapter may raise."""


class TransientConnectorError(ConnectorError):
    """Worth retrying later: timeouts, 429, 5xx, GraphQL throttling, an error the product calls temporary."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentConnectorError(ConnectorError):
    """Retrying will not help (bad credentials, unknown endpoint, unparseable payload).

    The connector is disabled with this message as its reason, so say it for a person:
    which system, what it answered, and (for a malformed payload) which field.
    """


@dataclasses.dataclass(frozen=True, slots=True)
class ConnectorConfig:
    """What an adapter needs to know about its connector (never the ORM row)."""

    name: str
    base_url: str
    credentials: Mapping[str, str]
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class ExternalLocation:
    """One of the system's own locations (Shopify location, ERPNext warehouse, ShipHero warehouse)."""

    external_id: str
    name: str
    active: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class PositionRecord:
    """What the system says now about one SKU at one of its locations (and bin, if it has bins)."""

    external_location_id: str
    sku: str
    on_hand: int
    allocated: int
    available: int
    incoming: int = 0
    bin: str = ""
    as_of: dt.datetime | None = None  # the system's own timestamp for this value


@dataclasses.dataclass(frozen=True, slots=True)
class EventRecord:
    """A change event from the system's history (ShipHero inventory change, ERPNext ledger entry)."""

    source_event_id: str
    kind: str  # receipt | cycle_count | adjustment | channel_allocation | pick | transfer | sync_import | publish
    external_location_id: str
    sku: str
    delta: int
    quantity_after: int | None
    occurred_at: dt.datetime
    bin: str = ""
    channel: str = ""
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class OrderLineRecord:
    source_line_id: str
    external_location_id: str
    sku: str
    quantity: int


@dataclasses.dataclass(frozen=True, slots=True)
class OrderRecord:
    """A storefront order with the location each line is fulfilled from."""

    source_order_id: str
    name: str
    channel: str
    placed_at: dt.datetime
    lines: tuple[OrderLineRecord, ...]
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def positive_int_option(config: ConnectorConfig, name: str, default: int) -> int:
    """A connector option that must be a positive integer; anything else disables the connector."""
    value = config.options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PermanentConnectorError(f"{config.name}: option {name} must be a positive integer, not {value!r}.")
    return value


T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of records, and the cursor to resume after it (None when the stream has no cursor)."""

    records: tuple[T, ...]
    cursor: str | None = None


class Adapter(abc.ABC):
    """One product's API client for one connector.

    `positions()` is a full read of current stock. `positions(changed_since=t)` reads only what
    changed at or after `t` (more is harmless); it is called only on adapters whose class sets
    `reads_changed_positions`, and must return every bin of each (location, SKU) it returns, so
    the pipeline can tell that a missing bin of a returned SKU was emptied. `events(since=)` and
    `orders(since=)` read history after an opaque cursor the adapter itself produced (None: from
    the beginning, or from `options["history_start"]` when set). Cursors may overlap the previous
    page: the pipeline deduplicates by source id. Every method raises ConnectorError subclasses only.
    """

    product: ClassVar[str]
    roles: ClassVar[frozenset[str]]
    # True when the product's API can filter positions by their last change (on a clock the hub can
    # convert to); otherwise every poll reads everything and `changed_since` is always None.
    reads_changed_positions: ClassVar[bool] = False

    def __init__(
        self,
        config: ConnectorConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # sleep and clock are injected so rate-limit pacing runs on simulated time in tests and backfills.
        self.config = config
        self.transport = transport
        self.sleep = sleep
        self.clock = clock

    @abc.abstractmethod
    def locations(self) -> list[ExternalLocation]:
        """The system's own locations (one cheap authenticated call or a few pages)."""

    @abc.abstractmethod
    def positions(self, *, changed_since: dt.datetime | None = None) -> Iterator[Page[PositionRecord]]:
        """Current positions page by page: every one, or those changed at or after `changed_since`."""

    def events(self, *, since: str | None) -> Iterator[Page[EventRecord]]:
        """Change events after the cursor, page by page; none for systems without a history."""
        return iter(())

    def orders(self, *, since: str | None) -> Iterator[Page[OrderRecord]]:
        """Orders after the cursor, page by page; none for systems that take no orders."""
        return iter(())

    def close(self) -> None:  # noqa: B027  (optional hook: most adapters hold nothing open)
        """Release open connections, if the adapter keeps any."""
