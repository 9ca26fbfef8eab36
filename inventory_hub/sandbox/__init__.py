"""The sandbox retailer: a seeded simulation of a multi-location WMS, ERP and storefront.

It is the outside world: it imports nothing from the hub's apps and serves its three systems
through the same HTTP APIs as the real products (ShipHero, ERPNext, Shopify).
"""
