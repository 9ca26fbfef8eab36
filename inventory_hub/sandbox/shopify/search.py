"""Shopify's search syntax for the `query:` argument of connections, as far as the sandbox needs it.

Supported: `field:value`, comparators `field:>v`, `>=`, `<`, `<=`, values quoted with ' or ",
negation `-field:value`, a trailing `*` for a prefix match, bare words (matched against the
connection's default fields), terms joined by spaces or `AND`, and groups joined by `OR`.
A term naming a field the connection does not support is ignored and reported back as a search
warning, as Shopify does (`extensions.search`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import Any

_TERM = re.compile(
    r"""(?P<neg>-?)(?:(?P<field>[A-Za-z_][\w.]*):(?P<op>>=|<=|>|<)?)?(?P<value>'[^']*'|"[^"]*"|[^\s()]+)"""
)

Getter = Callable[[Any], Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Term:
    field: str | None
    op: str  # "=", ">", ">=", "<", "<="
    value: str
    negated: bool


@dataclasses.dataclass(slots=True)
class SearchField:
    """How one search field reads a row: `kind` is "datetime", "int", "str" or "bool"."""

    kind: str
    get: Getter


def parse(query: str) -> list[list[Term]]:
    """The query as OR-groups of AND-ed terms."""
    groups: list[list[Term]] = [[]]
    for m in _TERM.finditer(query):
        value = m["value"]
        if m["field"] is None and not m["neg"] and value in ("AND", "OR"):
            if value == "OR":
                groups.append([])
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        groups[-1].append(Term(m["field"], m["op"] or "=", value, bool(m["neg"])))
    return [g for g in groups if g] or [[]]


def parse_time(value: str) -> dt.datetime | None:
    """An ISO-8601 timestamp or date; naive values are read as UTC."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _compare(actual: Any, op: str, wanted: Any) -> bool:
    if op == ">":
        return bool(actual > wanted)
    if op == ">=":
        return bool(actual >= wanted)
    if op == "<":
        return bool(actual < wanted)
    if op == "<=":
        return bool(actual <= wanted)
    return bool(actual == wanted)


def _term_test(term: Term, field: SearchField) -> Callable[[Any], bool] | None:
    """A predicate for one term, or None if its value cannot be read as the field's kind."""
    wanted: Any
    if field.kind == "datetime":
        wanted = parse_time(term.value)
        if wanted is None:
            return None
    elif field.kind == "int":
        try:
            wanted = int(term.value)
        except ValueError:
            return None
    elif field.kind == "bool":
        wanted = term.value.lower() == "true"
    else:
        text = term.value.lower()
        if text.endswith("*"):
            return lambda row: any(str(v).lower().startswith(text[:-1]) for v in _values(field.get(row)))
        return lambda row: any(_compare(str(v).lower(), term.op, text) for v in _values(field.get(row)))
    return lambda row: any(v is not None and _compare(v, term.op, wanted) for v in _values(field.get(row)))


def _values(value: Any) -> Iterable[Any]:
    return value if isinstance(value, tuple | list) else (value,)


def matcher(
    query: str | None, fields: dict[str, SearchField], default_fields: tuple[str, ...], warnings: list[dict[str, str]]
) -> Callable[[Any], bool] | None:
    """A row predicate for `query` (None when it filters nothing); unusable terms go to `warnings`."""
    if not query or not query.strip():
        return None
    groups: list[list[Callable[[Any], bool]]] = []
    for group in parse(query):
        tests: list[Callable[[Any], bool]] = []
        for term in group:
            if term.field is None:
                bare = [
                    t
                    for name in default_fields
                    if (t := _term_test(dataclasses.replace(term, field=name), fields[name]))
                ]
                test: Callable[[Any], bool] | None = (
                    (lambda row, bare=bare: any(t(row) for t in bare)) if bare else None
                )
            elif term.field not in fields:
                warnings.append({"field": term.field, "message": "Invalid search field for this query."})
                continue
            else:
                test = _term_test(term, fields[term.field])
                if test is None:
                    warnings.append({"field": term.field, "message": f"Invalid value for search field '{term.field}'."})
                    continue
            if test is not None:
                tests.append((lambda row, t=test: not t(row)) if term.negated else test)
        groups.append(tests)
    return lambda row: any(all(t(row) for t in tests) for tests in groups)
