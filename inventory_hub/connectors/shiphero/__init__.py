"""ShipHero (WMS): its public GraphQL API, read for warehouses, stock per bin and inventory changes."""

from __future__ import annotations
