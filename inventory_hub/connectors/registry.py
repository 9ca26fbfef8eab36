"""Which product adapters are installed: one line per product, imported lazily.

Adding a product is adding its package and one line here (see the README's checklist).
"""

from __future__ import annotations

from django.utils.module_loading import import_string

from inventory_hub.connectors.base import Adapter, PermanentConnectorError
from inventory_hub.connectors.models import Product

# product key → dotted path of its Adapter class. A product not listed here (yet) fails its
# polls permanently with a readable reason.
ADAPTERS: dict[str, str] = {
    "erpnext": "inventory_hub.connectors.erpnext.adapter.ErpNextAdapter",
    "shiphero": "inventory_hub.connectors.shiphero.adapter.ShipHeroAdapter",
    "shopify": "inventory_hub.connectors.shopify.adapter.ShopifyAdapter",
}


def adapter_class(product: str) -> type[Adapter]:
    """The installed adapter class for a product key."""
    try:
        path = ADAPTERS[product]
    except KeyError:
        label = Product(product).label if product in Product.values else product
        raise PermanentConnectorError(f"No adapter for {label} is installed in this hub.") from None
    return import_string(path)  # type: ignore[no-any-return]


def installed_products() -> list[str]:
    """Product keys that have an adapter."""
    return sorted(ADAPTERS)
