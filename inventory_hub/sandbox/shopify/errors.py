"""Shopify's (graphql-ruby's) shapes for query errors, made from graphql-core's.

graphql-core finds the errors; this module re-words the common ones the way Shopify answers
(`Field 'x' doesn't exist on type 'Y'`, code `undefinedField`, with a `path` that starts at
`"query Name"`), so a client's error handling sees what it would see in production.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    specified_rules,
    validate,
)
from graphql.language import (
    ArgumentNode,
    FieldNode,
    FragmentDefinitionNode,
    Node,
    OperationDefinitionNode,
    VariableDefinitionNode,
    Visitor,
    print_ast,
    visit,
)


def _locations(error: GraphQLError) -> list[dict[str, int]]:
    return [{"line": loc.line, "column": loc.column} for loc in error.locations or ()]


def syntax_error(error: GraphQLSyntaxError) -> dict[str, Any]:
    """graphql-ruby reports a parse error with its message and location only (no code)."""
    loc = (error.locations or [None])[0]
    where = f" at [{loc.line}, {loc.column}]" if loc else ""
    return {"message": f"Parse error: {error.description}{where}", "locations": _locations(error)}


class _Paths(Visitor):
    """graphql-ruby's error `path` for every field, argument and value node of a document."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: dict[int, list[str]] = {}

    def enter(self, node: Node, key: Any, parent: Any, path: Any, ancestors: list[Any]) -> None:
        chain: list[str] = []
        for a in [*ancestors, parent, node]:
            if isinstance(a, OperationDefinitionNode):
                chain.append(f"{a.operation.value} {a.name.value}" if a.name else a.operation.value)
            elif isinstance(a, FragmentDefinitionNode):
                chain.append(f"fragment {a.name.value}")
            elif isinstance(a, FieldNode | ArgumentNode):
                chain.append(a.name.value)
        self.paths[id(node)] = chain


def _field_and_argument(ancestors: list[str]) -> tuple[str, str]:
    return (ancestors[-2] if len(ancestors) >= 2 else "", ancestors[-1] if ancestors else "")


Rewriter = Callable[[GraphQLError, list[str]], tuple[str, dict[str, Any]] | None]


def _undefined_field(error: GraphQLError, path: list[str]) -> tuple[str, dict[str, Any]] | None:
    m = re.match(r"Cannot query field '(.+?)' on type '(.+?)'", error.message)
    if not m:
        return None
    return (
        f"Field '{m[1]}' doesn't exist on type '{m[2]}'",
        {"code": "undefinedField", "typeName": m[2], "fieldName": m[1]},
    )


def _argument_not_accepted(error: GraphQLError, path: list[str]) -> tuple[str, dict[str, Any]] | None:
    m = re.match(r"Unknown argument '(.+?)' on (field|directive) '(?:.+\.)?(.+?)'", error.message)
    if not m:
        return None
    kind = "Field" if m[2] == "field" else "Directive"
    return (
        f"{kind} '{m[3]}' doesn't accept argument '{m[1]}'",
        {"code": "argumentNotAccepted", "name": m[3], "typeName": kind, "argumentName": m[1]},
    )


def _literal_incompatible(error: GraphQLError, path: list[str]) -> tuple[str, dict[str, Any]] | None:
    node = (error.nodes or [None])[0]
    field, argument = _field_and_argument(path)
    if node is None or not field:
        return None
    source = node.loc.source.body[node.loc.start : node.loc.end] if node.loc else "?"
    m = re.match(r"(?:Expected value of type '(.+?)'|(\w+) cannot represent)", error.message)
    expected = (m[1] or m[2]) if m else "?"
    return (
        f"Argument '{argument}' on Field '{field}' has an invalid value ({source}). Expected type '{expected}'.",
        {"code": "argumentLiteralsIncompatible", "typeName": "Field", "argumentName": argument},
    )


def _missing_arguments(error: GraphQLError, path: list[str]) -> tuple[str, dict[str, Any]] | None:
    m = re.match(r"Field '(.+?)' argument '(.+?)' of type '.+?' is required", error.message)
    if not m:
        return None
    return (
        f"Field '{m[1]}' is missing required arguments: {m[2]}",
        {"code": "missingRequiredArguments", "className": "Field", "name": m[1], "arguments": m[2]},
    )


def _selection_mismatch(error: GraphQLError, path: list[str]) -> tuple[str, dict[str, Any]] | None:
    m = re.match(r"Field '(.+?)' must not have a selection since type '(.+?)'", error.message)
    if m:
        return (
            f"Selections can't be made on scalars (field '{m[1]}' returns {m[2]} but has selections)",
            {"code": "selectionMismatch", "nodeName": f"field '{m[1]}'", "typeName": m[2]},
        )
    m = re.match(r"Field '(.+?)' of type '(.+?)' must have a selection of subfields", error.message)
    if m:
        return (
            f"Field must have selections (field '{m[1]}' returns {m[2]} but has no selections. "
            f"Did you mean '{m[1]} {{ ... }}'?)",
            {"code": "selectionMismatch", "nodeName": f"field '{m[1]}'", "typeName": m[2]},
        )
    return None


def _variables(error: GraphQLError, path: list[str]) -> tuple[str, dict[str, Any]] | None:
    m = re.match(r"Variable '\$(.+?)' is never used(?: in operation '(.+?)')?", error.message)
    if m:
        return (
            f"Variable ${m[1]} is declared by {m[2] or 'anonymous query'} but not used",
            {"code": "variableNotUsed", "variableName": m[1]},
        )
    m = re.match(r"Variable '\$(.+?)' is not defined(?: by operation '(.+?)')?", error.message)
    if m:
        return (
            f"Variable ${m[1]} is used by {m[2] or 'anonymous query'} but not declared",
            {"code": "variableNotDefined", "variableName": m[1]},
        )
    return None


def _unknown_type(error: GraphQLError, path: list[str]) -> tuple[str, dict[str, Any]] | None:
    m = re.match(r"Unknown type '(.+?)'", error.message)
    if not m:
        return None
    return f"No such type {m[1]}, so it can't be a variable type", {"code": "undefinedType", "typeName": m[1]}


_REWRITERS: tuple[Rewriter, ...] = (
    _undefined_field,
    _argument_not_accepted,
    _missing_arguments,
    _selection_mismatch,
    _variables,
    _unknown_type,
)


def _code_for(rule: type[ASTValidationRule]) -> str:
    name = rule.__name__.removesuffix("Rule")
    return name[0].lower() + name[1:]


def validation_errors(schema: GraphQLSchema, document: DocumentNode) -> list[dict[str, Any]]:
    """Every validation error of `document`, in Shopify's words; [] when it is valid."""
    if not validate(schema, document):
        return []
    finder = _Paths()
    visit(document, finder)
    out: list[dict[str, Any]] = []
    for rule in specified_rules:
        for error in validate(schema, document, [rule]):
            node = (error.nodes or [None])[0]
            path = finder.paths.get(id(node), []) if node is not None else []
            rewritten = None
            if rule.__name__ == "ValuesOfCorrectTypeRule":
                rewritten = _literal_incompatible(error, path)
            else:
                rewritten = next((r for f in _REWRITERS if (r := f(error, path))), None)
            message, extensions = rewritten or (error.message, {"code": _code_for(rule)})
            entry: dict[str, Any] = {"message": message, "locations": _locations(error)}
            if path:
                entry["path"] = path
            entry["extensions"] = extensions
            out.append(entry)
    return out


def variable_errors(errors: list[GraphQLError], inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """graphql-ruby's "Variable $x of type T was provided invalid value" errors."""
    out = []
    for error in errors:
        node = (error.nodes or [None])[0]
        name = getattr(getattr(getattr(node, "variable", None), "name", None), "value", "?")
        type_text = print_ast(node.type) if isinstance(node, VariableDefinitionNode) else "?"
        out.append(
            {
                "message": f"Variable ${name} of type {type_text} was provided invalid value",
                "locations": _locations(error),
                "extensions": {
                    "value": inputs.get(name),
                    "problems": [{"path": [], "explanation": error.message}],
                },
            }
        )
    return out
