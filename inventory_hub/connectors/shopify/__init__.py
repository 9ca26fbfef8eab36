"""Shopify Admin GraphQL API (storefront role): client (HTTP + cost pacing), parsing, adapter."""

from __future__ import annotations
