"""Model fields shared by the apps."""

from __future__ import annotations

import json
from typing import Any

from django.db import models

from inventory_hub.core import crypto


class EncryptedJSONField(models.TextField):
    """A dict of secrets stored as one Fernet token; the column never holds plaintext.

    Reads decrypt with any configured key; writes always use the newest one.
    """

    description = "JSON encrypted at rest"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return {}
        return json.loads(crypto.decrypt(value))

    def to_python(self, value: Any) -> Any:
        if isinstance(value, dict):
            return value
        if value is None or value == "":
            return {}
        return json.loads(value)

    def get_prep_value(self, value: Any) -> str:
        return crypto.encrypt(json.dumps(value or {}, sort_keys=True))

    def value_to_string(self, obj: models.Model) -> str:
        # Dumps and fixtures never carry the secret.
        return ""
