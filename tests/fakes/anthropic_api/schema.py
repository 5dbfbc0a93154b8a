"""Structured-output schemas: the JSON Schema subset the API accepts, and a minimal
instance of a schema for the default answer.

The subset follows the "Structured outputs" page on platform.claude.com and the
transformation in anthropic 2.17.0 (`anthropic/lib/_parse/_transform.py`), which
keeps exactly the keywords the API supports and moves the rest into descriptions:

- every basic type, `enum` and `const` of primitives, `anyOf`, `allOf`, local
  `$ref` with `$defs`/`definitions`, `description`, `title`, `default`;
- objects need `additionalProperties: false`; `properties` and `required`;
- arrays take `items` and `minItems` of 0 or 1 only;
- strings take `format` from a fixed list and simple `pattern`s (no lookaround,
  backreferences or word boundaries);
- numeric bounds, string lengths, `oneOf`, `not`, conditionals and recursive
  schemas are rejected.

The error texts copy the wording the API returns, for example
"For 'integer' type, property 'minimum' is not supported". The complexity limits
(24 optional properties, 16 properties with union types) are the ones reported
with "Schema is too complex for compilation".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, invalid_request

SUPPORTED_TYPES = frozenset(
    {"object", "array", "string", "integer", "number", "boolean", "null"}
)
SUPPORTED_STRING_FORMATS = frozenset(
    {
        "date-time",
        "time",
        "date",
        "duration",
        "email",
        "hostname",
        "uri",
        "ipv4",
        "ipv6",
        "uuid",
    }
)
MAX_OPTIONAL_PROPERTIES = 24
MAX_UNION_PROPERTIES = 16

_COMMON_KEYWORDS = frozenset(
    {
        "type",
        "description",
        "title",
        "enum",
        "const",
        "anyOf",
        "allOf",
        "$ref",
        "$defs",
        "definitions",
        "default",
        "examples",
        "$schema",
        "$id",
        "$comment",
    }
)
_TYPE_KEYWORDS: dict[str, frozenset[str]] = {
    "object": frozenset({"properties", "required", "additionalProperties"}),
    "array": frozenset({"items", "minItems"}),
    "string": frozenset({"format", "pattern"}),
}
_UNSUPPORTED_PATTERN = re.compile(r"\(\?<?[=!]|\\[1-9]|\\k<|\\[bB]")
_FORMAT_EXAMPLES = {
    "date-time": "2026-01-01T00:00:00Z",
    "time": "00:00:00",
    "date": "2026-01-01",
    "duration": "P1D",
    "email": "student@example.com",
    "hostname": "example.com",
    "uri": "https://example.com/",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


@dataclass
class _Walk:
    prefix: str
    definitions: dict[str, Any]
    expanding: list[str] = field(default_factory=list)
    optional_properties: int = 0
    union_properties: int = 0


def validate_schema(schema: Any, prefix: str) -> None:
    """Raise a 400 ApiError unless `schema` is inside the supported subset.

    `prefix` names the request field in the message, for example
    "output_config.format.schema".
    """
    if not isinstance(schema, dict):
        raise invalid_request(f"{prefix}: Input should be a valid dictionary")
    definitions = _definitions(schema)
    for ref, definition in definitions.items():
        # Each definition is checked on its own so that unreferenced ones are
        # validated too. The property counts come from the walk below, which
        # expands every reference where it is used.
        _check_node(definition, _Walk(prefix, definitions, [ref]))
    walk = _Walk(prefix=prefix, definitions=definitions)
    _check_node(schema, walk)
    if walk.optional_properties > MAX_OPTIONAL_PROPERTIES:
        raise _too_complex(
            prefix,
            f"{walk.optional_properties} optional properties, more than the "
            f"{MAX_OPTIONAL_PROPERTIES} allowed",
        )
    if walk.union_properties > MAX_UNION_PROPERTIES:
        raise _too_complex(
            prefix,
            f"{walk.union_properties} properties with union types, more than the "
            f"{MAX_UNION_PROPERTIES} allowed",
        )


def _too_complex(prefix: str, detail: str) -> ApiError:
    return invalid_request(
        f"{prefix}: Schema is too complex for compilation ({detail}). "
        "Simplify the schema or make more properties required."
    )


def _definitions(schema: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        group = schema.get(key)
        if isinstance(group, dict):
            found.update({f"#/{key}/{name}": value for name, value in group.items()})
    return found


def _node_types(node: dict[str, Any], walk: _Walk) -> list[str]:
    declared = node.get("type")
    if declared is None:
        return []
    types = declared if isinstance(declared, list) else [declared]
    for name in types:
        if name not in SUPPORTED_TYPES:
            raise invalid_request(f"{walk.prefix}: Unsupported type '{name}'")
    return [str(name) for name in types]


def _check_node(node: Any, walk: _Walk) -> None:
    if not isinstance(node, dict):
        raise invalid_request(
            f"{walk.prefix}: Boolean and non-object schemas are not supported"
        )
    types = _node_types(node, walk)
    _check_keywords(node, types, walk)
    _check_literals(node, walk)
    if "$ref" in node:
        _check_ref(node["$ref"], walk)
    for combinator in ("anyOf", "allOf"):
        if combinator in node:
            _check_variants(node[combinator], combinator, walk)
    if "object" in types or "properties" in node:
        _check_object(node, walk)
    if "array" in types:
        _check_array(node, walk)
    if "string" in types:
        _check_string(node, walk)


def _check_keywords(node: dict[str, Any], types: list[str], walk: _Walk) -> None:
    allowed = set(_COMMON_KEYWORDS)
    effective_types = types
    if not types and "properties" in node:
        effective_types = ["object"]
    for name in effective_types:
        allowed |= _TYPE_KEYWORDS.get(name, frozenset())
    for key in node:
        if key in allowed:
            continue
        if types:
            raise invalid_request(
                f"{walk.prefix}: For '{types[0]}' type, property '{key}' "
                "is not supported"
            )
        raise invalid_request(f"{walk.prefix}: Property '{key}' is not supported")


def _check_literals(node: dict[str, Any], walk: _Walk) -> None:
    if "enum" in node:
        values = node["enum"]
        if not isinstance(values, list) or not values:
            raise invalid_request(f"{walk.prefix}: 'enum' must be a non-empty array")
        if not all(_is_primitive(value) for value in values):
            raise invalid_request(
                f"{walk.prefix}: Complex types within 'enum' are not supported"
            )
    if "const" in node and not _is_primitive(node["const"]):
        raise invalid_request(
            f"{walk.prefix}: Complex types within 'const' are not supported"
        )


def _check_ref(ref: Any, walk: _Walk) -> None:
    if not isinstance(ref, str) or not ref.startswith(("#/$defs/", "#/definitions/")):
        raise invalid_request(
            f"{walk.prefix}: External '$ref' {ref!r} is not supported"
        )
    if ref not in walk.definitions:
        raise invalid_request(f"{walk.prefix}: '$ref' {ref!r} could not be resolved")
    if ref in walk.expanding:
        raise invalid_request(f"{walk.prefix}: Recursive schemas are not supported")
    walk.expanding.append(ref)
    try:
        _check_node(walk.definitions[ref], walk)
    finally:
        walk.expanding.pop()


def _check_variants(variants: Any, combinator: str, walk: _Walk) -> None:
    if not isinstance(variants, list) or not variants:
        raise invalid_request(
            f"{walk.prefix}: '{combinator}' must be a non-empty array"
        )
    for variant in variants:
        _check_node(variant, walk)


def _check_object(node: dict[str, Any], walk: _Walk) -> None:
    additional = node.get("additionalProperties")
    if additional is None:
        raise invalid_request(
            f"{walk.prefix}: For 'object' type, 'additionalProperties' must be "
            "explicitly set to false"
        )
    if additional is not False:
        raise invalid_request(
            f"{walk.prefix}: For 'object' type, 'additionalProperties: "
            f"{_json_literal(additional)}' is not supported. Please set "
            "'additionalProperties' to false"
        )
    properties = node.get("properties", {})
    required = node.get("required", [])
    if not isinstance(properties, dict):
        raise invalid_request(f"{walk.prefix}: 'properties' must be an object")
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise invalid_request(f"{walk.prefix}: 'required' must be an array of strings")
    for name, subschema in properties.items():
        if name not in required:
            walk.optional_properties += 1
        if _is_union(subschema):
            walk.union_properties += 1
        _check_node(subschema, walk)


def _check_array(node: dict[str, Any], walk: _Walk) -> None:
    if "minItems" in node and node["minItems"] not in (0, 1):
        raise invalid_request(
            f"{walk.prefix}: For 'array' type, 'minItems' values other than 0 or 1 "
            "are not supported"
        )
    if "items" in node:
        _check_node(node["items"], walk)


def _check_string(node: dict[str, Any], walk: _Walk) -> None:
    string_format = node.get("format")
    if string_format is not None and string_format not in SUPPORTED_STRING_FORMATS:
        raise invalid_request(
            f"{walk.prefix}: For 'string' type, format '{string_format}' "
            "is not supported"
        )
    pattern = node.get("pattern")
    if pattern is None:
        return
    if not isinstance(pattern, str) or _UNSUPPORTED_PATTERN.search(pattern):
        raise invalid_request(
            f"{walk.prefix}: For 'string' type, pattern {pattern!r} uses regex "
            "features that are not supported (lookaround, backreferences or word "
            "boundaries)"
        )
    try:
        re.compile(pattern)
    except re.error as error:
        raise invalid_request(
            f"{walk.prefix}: For 'string' type, pattern {pattern!r} is not a valid "
            f"regular expression: {error}"
        ) from error


def _is_union(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    declared = schema.get("type")
    return "anyOf" in schema or (isinstance(declared, list) and len(declared) > 1)


def _is_primitive(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _json_literal(value: Any) -> str:
    if value is True:
        return "true"
    return repr(value)


def minimal_instance(schema: dict[str, Any]) -> Any:
    """Return the smallest value that matches a validated `schema`.

    Objects get their required properties only, enums their first value, strings
    "text" (or an example of their format), arrays one item, numbers 0 and
    booleans false.
    """
    return _instance(schema, _definitions(schema))


def _instance(node: dict[str, Any], definitions: dict[str, Any]) -> Any:
    if "$ref" in node:
        return _instance(definitions[node["$ref"]], definitions)
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    if "anyOf" in node:
        return _instance(node["anyOf"][0], definitions)
    if "allOf" in node:
        return _merge([_instance(part, definitions) for part in node["allOf"]])
    declared = node.get("type", "object" if "properties" in node else "null")
    types = declared if isinstance(declared, list) else [declared]
    concrete = [name for name in types if name != "null"]
    return _typed_instance(concrete[0] if concrete else "null", node, definitions)


def _typed_instance(
    kind: str, node: dict[str, Any], definitions: dict[str, Any]
) -> Any:
    if kind == "object":
        properties = node.get("properties", {})
        return {
            name: _instance(properties[name], definitions)
            for name in node.get("required", [])
            if name in properties
        }
    if kind == "array":
        items = node.get("items")
        return [_instance(items, definitions)] if isinstance(items, dict) else []
    if kind == "string":
        return _FORMAT_EXAMPLES.get(str(node.get("format")), "text")
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    return None


def _merge(parts: list[Any]) -> Any:
    if parts and all(isinstance(part, dict) for part in parts):
        merged: dict[str, Any] = {}
        for part in parts:
            merged.update(part)
        return merged
    return parts[0] if parts else None
