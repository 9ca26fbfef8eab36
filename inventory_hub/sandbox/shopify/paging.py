"""Relay cursor pagination over a sorted index, the way Shopify's connections page.

A cursor is base64 of JSON `{"last_id": …, "last_value": …}` (the shape of Shopify's own
cursors): the sort value and id of the row it points at, so a page boundary stays put when rows
are added elsewhere, and walking `first`/`after` visits every matching row exactly once.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any

from graphql import GraphQLError

Key = tuple[Any, int]  # (sort value, id): unique, totally ordered within one sort


@dataclasses.dataclass(frozen=True, slots=True)
class Edge:
    cursor: str
    node: Any


@dataclasses.dataclass(frozen=True, slots=True)
class Connection:
    edges: list[Edge]
    nodes: list[Any]
    page_info: dict[str, Any]


def encode_cursor(key: Key) -> str:
    return base64.b64encode(json.dumps({"last_id": key[1], "last_value": key[0]}).encode()).decode()


def decode_cursor(cursor: str) -> Key:
    try:
        payload = json.loads(base64.b64decode(cursor, validate=True))
        return (payload["last_value"], int(payload["last_id"]))
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor!r}") from exc


def _position(keys: Sequence[Key], cursor: str, *, right: bool) -> int:
    key = decode_cursor(cursor)
    try:
        return bisect.bisect_right(keys, key) if right else bisect.bisect_left(keys, key)
    except TypeError as exc:  # a cursor from another sort order
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor!r}") from exc


def paginate(
    keys: Sequence[Key],
    rows: Sequence[Any],
    *,
    to_node: Callable[[Any], Any],
    match: Callable[[Any], bool] | None = None,
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
    reverse: bool = False,
) -> Connection:
    """One page of `rows` (ascending by `keys`) that satisfy `match`."""
    ok = match or (lambda _row: True)
    # In reverse order, `after` bounds from above and `first` takes the largest keys.
    upper_cursor, lower_cursor = (after, before) if reverse else (before, after)
    lo = 0 if lower_cursor is None else _position(keys, lower_cursor, right=True)
    hi = len(keys) if upper_cursor is None else _position(keys, upper_cursor, right=False)
    from_low = (first is not None) != reverse
    size = first if first is not None else (last or 0)  # cost.py has checked that one is given
    picked: list[int] = []
    indexes = range(lo, hi) if from_low else range(hi - 1, lo - 1, -1)
    more = False
    for i in indexes:
        if ok(rows[i]):
            if len(picked) == size:
                more = True
                break
            picked.append(i)
    # Rows beyond the cursor bound on the near side count as "more" in that direction too.
    near = range(lo - 1, -1, -1) if from_low else range(hi, len(keys))
    beyond = any(ok(rows[i]) for i in near)
    if not from_low:
        picked.reverse()
    if reverse:
        picked.reverse()
    has_next, has_prev = (more, beyond) if first is not None else (beyond, more)
    edges = [Edge(encode_cursor(keys[i]), to_node(rows[i])) for i in picked]
    return Connection(
        edges=edges,
        nodes=[e.node for e in edges],
        page_info={
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": edges[0].cursor if edges else None,
            "endCursor": edges[-1].cursor if edges else None,
        },
    )
