"""The error responses every API operation can give, documented once for the whole schema.

drf-spectacular documents the success response of each view; the errors DRF itself sends are
the same everywhere, so one postprocessing hook adds them to every operation instead of a
`responses=` on every view. An operation that documents a code itself keeps its own.
"""

from __future__ import annotations

from typing import Any

ERROR_REF = {"$ref": "#/components/schemas/Error"}
VALIDATION_ERROR_REF = {"$ref": "#/components/schemas/ValidationError"}

ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "description": "DRF's error body: one human-readable message.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "ValidationError": {
        "type": "object",
        "description": (
            "DRF's validation error body: each field (or `non_field_errors`) maps to its messages; "
            "a nested object or list nests its errors the same way."
        ),
        "additionalProperties": {"$ref": "#/components/schemas/FieldErrors"},
    },
    "FieldErrors": {
        "anyOf": [
            {"type": "string"},
            {"type": "array", "items": {"anyOf": [{"type": "string"}, VALIDATION_ERROR_REF]}},
            VALIDATION_ERROR_REF,
        ],
    },
}

# Query parameters every paginated list takes; an unknown or stale cursor is DRF's 404.
CURSOR_PARAMETER = "cursor"


def _response(description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


UNAUTHORIZED = _response(
    "No credentials, or an unknown token.",
    ERROR_REF,
    headers={
        "WWW-Authenticate": {
            "description": "The scheme to authenticate with: `Token`.",
            "required": True,
            "schema": {"type": "string", "enum": ["Token"]},
        }
    },
)
FORBIDDEN = _response("The user's role lacks the permission this operation needs.", ERROR_REF)
NOT_FOUND = _response("No such object (or, for a list, an invalid cursor).", ERROR_REF)
BAD_REQUEST = _response(
    "Invalid input: field errors, or `detail` for a body that cannot be parsed.",
    {"anyOf": [VALIDATION_ERROR_REF, ERROR_REF]},
)
UNSUPPORTED_MEDIA_TYPE = _response("The body's Content-Type is not one the operation accepts.", ERROR_REF)
TOO_MANY_REQUESTS = _response(
    "Throttled: too many requests from this user (or, anonymous, this address).",
    ERROR_REF,
    headers={
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
)


def error_responses(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The error responses DRF can give for this operation, by status code."""
    security = operation.get("security", [])
    parameters = operation.get("parameters", [])
    takes_body = "requestBody" in operation
    responses: dict[str, dict[str, Any]] = {}
    if takes_body or any(p["in"] == "query" for p in parameters):
        responses["400"] = BAD_REQUEST
    if security:
        # A wrong token is refused even where credentials are optional (the token endpoint).
        responses["401"] = UNAUTHORIZED
    if security and {} not in security:
        responses["403"] = FORBIDDEN
    if any(p["in"] == "path" or (p["in"] == "query" and p["name"] == CURSOR_PARAMETER) for p in parameters):
        responses["404"] = NOT_FOUND
    if takes_body:
        responses["415"] = UNSUPPORTED_MEDIA_TYPE
    # Every view is throttled: DEFAULT_THROTTLE_CLASSES, or the token view's own AnonRateThrottle.
    responses["429"] = TOO_MANY_REQUESTS
    return responses


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add DRF's error responses to every operation."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(ERROR_SCHEMAS)
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and not parameter.get("required"):
                    # Empty is absent for every optional query parameter of ours (django-filter,
                    # pagination, the views' own): `?location=` filters nothing, it is no error.
                    parameter["allowEmptyValue"] = True
            responses = operation["responses"]
            for status_code, response in error_responses(operation).items():
                responses.setdefault(status_code, response)
            # An error a view documents itself (a description only) has the same body.
            for status_code, response in responses.items():
                if status_code.startswith("4") and "content" not in response:
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
    return result
