from __future__ import annotations

import pytest

from inventory_hub.connectors import registry
from inventory_hub.connectors.base import Adapter, PermanentConnectorError
from inventory_hub.connectors.models import Product


def test_a_product_without_an_installed_adapter_is_a_permanent_error_naming_it():
    with pytest.raises(PermanentConnectorError, match="No adapter for Odoo is installed"):
        registry.adapter_class("odoo")


@pytest.mark.parametrize("product", registry.installed_products())
def test_every_registered_adapter_imports_and_names_its_product(product):
    adapter = registry.adapter_class(product)

    assert issubclass(adapter, Adapter)
    assert adapter.product == product
    assert product in Product.values
