"""The adapter interface every product package implements, and the errors adapters raise.

Adapters speak one product's real API and yield normalized, frozen records; the poll pipeline
(observations) stores them. Errors say whether retrying can help.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from inventory_hub.connectors.models import Connector


class ConnectorError(Exception):
    """Base for every failure an adapter may raise."""


class TransientConnectorError(ConnectorError):
    """Worth retrying later: timeouts, 429, 5xx, GraphQL throttling."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentConnectorError(ConnectorError):
    """Retrying will not help (bad credentials, unknown endpoint, unparseable payload).

    The connector is disabled with this message as its reason, so say it for a person.
    """


class Adapter(abc.ABC):
    """One product's API client, bound to one connector row."""

    product: ClassVar[str]
    roles: ClassVar[frozenset[str]]

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
