"""Shopify's calculated query cost, and its checks on connection arguments.

Rules (shopify.dev "API rate limits", and Shopify's engineering post on query cost):
scalars and enums cost 0; an object costs 1; a connection costs 2 plus its page size (`first`
or `last`) times the cost of one node (the node's own 1 plus its selections); `pageInfo`,
`edges` and `cursor` add nothing of their own. A selection of both `edges { node }` and `nodes`
is charged for both. `requestedQueryCost` prices the query before it runs; `actualQueryCost`
prices what came back (the real number of nodes of each connection).

Connections must be given `first` or `last`, of at most 250 (Shopify's page-size limit).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    get_named_type,
)
from graphql.execution.collect_fields import collect_fields, collect_sub_fields
from graphql.execution.values import get_argument_values
from graphql.language import FragmentDefinitionNode

MAX_PAGE_SIZE = 250
Selection = dict[str, list[FieldNode]]


def _object(type_: Any) -> GraphQLObjectType:
    named = get_named_type(type_)
    if not isinstance(named, GraphQLObjectType):  # pragma: no cover - connections list objects
        raise TypeError(f"{named} is not an object type")
    return named


def is_connection(type_: GraphQLObjectType) -> bool:
    return type_.name.endswith("Connection") and "pageInfo" in type_.fields


class QueryCost:
    """Prices one operation of a validated document, with coerced variables."""

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema, self.fragments, self.variables = schema, fragments, variables
        root = schema.query_type
        if root is None:  # pragma: no cover - the subset schema always has QueryRoot
            raise ValueError("schema has no query type")
        self.root = root
        self.selection = collect_fields(schema, fragments, variables, root, operation.selection_set)
        self.errors: list[GraphQLError] = []

    def requested(self) -> int:
        """The static price; fills `errors` with any connection-argument errors found on the way."""
        self.errors = []
        return self._walk(self.root, self.selection, None, actual=False, path=[])

    def actual(self, data: dict[str, Any] | None) -> int:
        """The price of what the execution returned."""
        return self._walk(self.root, self.selection, data, actual=True, path=[])

    def _sub(self, type_: GraphQLObjectType, nodes: list[FieldNode]) -> Selection:
        return collect_sub_fields(self.schema, self.fragments, self.variables, type_, nodes)

    def _walk(self, type_: GraphQLObjectType, selection: Selection, data: Any, *, actual: bool, path: list[str]) -> int:
        total = 0
        for key, nodes in selection.items():
            name = nodes[0].name.value
            field = type_.fields.get(name)
            named = get_named_type(field.type) if field else None
            if field is None or not isinstance(named, GraphQLObjectType):
                continue  # __typename, scalars and enums are free
            value = data.get(key) if isinstance(data, dict) else None
            sub = self._sub(named, nodes)
            if is_connection(named):
                size = 0 if actual else self._page_size(field, nodes[0], [*path, key])
                total += 2 + self._connection(named, sub, value, size, actual=actual, path=[*path, key])
            elif actual and isinstance(value, list):
                total += 1 + max((self._walk(named, sub, v, actual=True, path=path) for v in value), default=0)
            elif actual and value is None:
                total += 1
            else:
                total += 1 + self._walk(named, sub, value, actual=actual, path=[*path, key])
        return total

    def _connection(
        self, type_: GraphQLObjectType, sub: Selection, value: Any, size: int, *, actual: bool, path: list[str]
    ) -> int:
        total = 0
        for key, nodes in sub.items():
            name = nodes[0].name.value
            if name == "nodes":
                node_type = _object(type_.fields["nodes"].type)
                node_sel = self._sub(node_type, nodes)
                items = (value.get(key) or []) if isinstance(value, dict) else []
                total += self._nodes(node_type, node_sel, items, size, actual=actual, path=[*path, key])
            elif name == "edges":
                edge_type = _object(type_.fields["edges"].type)
                node_type = _object(edge_type.fields["node"].type)
                edges = (value.get(key) or []) if isinstance(value, dict) else []
                for edge_key, edge_nodes in self._sub(edge_type, nodes).items():
                    if edge_nodes[0].name.value != "node":
                        continue
                    node_sel = self._sub(node_type, edge_nodes)
                    items = [e.get(edge_key) for e in edges if isinstance(e, dict)]
                    total += self._nodes(node_type, node_sel, items, size, actual=actual, path=[*path, key, edge_key])
        return total

    def _nodes(
        self, type_: GraphQLObjectType, sel: Selection, items: list[Any], size: int, *, actual: bool, path: list[str]
    ) -> int:
        if actual:
            return sum(1 + self._walk(type_, sel, item, actual=True, path=path) for item in items)
        return size * (1 + self._walk(type_, sel, None, actual=False, path=path))

    def _page_size(self, field: Any, node: FieldNode, path: list[str]) -> int:
        args = get_argument_values(field, node, self.variables)
        first, last = args.get("first"), args.get("last")
        message = None
        if first is None and last is None:
            message = "you must provide one of first or last"
        elif first is not None and last is not None:
            message = "providing both first and last is not supported"
        else:
            for arg, size in (("first", first), ("last", last)):
                if size is not None and not 0 <= size <= MAX_PAGE_SIZE:
                    message = (
                        f"The `{arg}` argument of `{node.name.value}` must be between 0 and {MAX_PAGE_SIZE}; "
                        f"it was {size}."
                    )
        if message is not None:
            self.errors.append(GraphQLError(message, nodes=[node], path=path))
            return 0
        return int(first if first is not None else last)
