"""`condition`: compare variables, then continue on the "true" or the "false" handle."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from flows.blocks.base import (
    VARIABLE_NAME_SCHEMA,
    BlockContext,
    BlockType,
    Handle,
    Problem,
    is_template,
    placeholders,
)

OPERATORS = ("equals", "not_equals", "contains", "greater_than", "less_than", "is_set")
NUMERIC = frozenset({"greater_than", "less_than"})

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["rules"],
    "properties": {
        "match": {
            "enum": ["all", "any"],
            "default": "all",
            "title": "True when",
            "description": "all: every rule holds; any: at least one does.",
        },
        "rules": {
            "type": "array",
            "minItems": 1,
            "maxItems": 20,
            "title": "Rules",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["variable", "operator"],
                "properties": {
                    "variable": VARIABLE_NAME_SCHEMA,
                    "operator": {"enum": list(OPERATORS), "title": "Is"},
                    "value": {
                        "type": ["string", "number"],
                        "title": "Value",
                        "description": "Compared as text (equals, contains; case-insensitive) "
                        "or as a number (greater/less than).",
                    },
                },
            },
        },
    },
}


def _is_number(value: object) -> bool:
    if isinstance(value, int | float):
        return True
    try:
        Decimal(str(value))
    except InvalidOperation:
        return False
    return True


def _semantic(data: Mapping[str, Any], ctx: BlockContext) -> list[Problem]:
    problems = []
    for index, rule in enumerate(data["rules"]):
        where, operator = f"rules[{index}].value", rule["operator"]
        if operator == "is_set":
            continue
        if "value" not in rule or rule["value"] == "":
            problems.append(
                Problem(ctx.node_id, where, "Give a value to compare with.", "required")
            )
        elif (
            operator in NUMERIC and not is_template(rule["value"]) and not _is_number(rule["value"])
        ):
            problems.append(
                Problem(
                    ctx.node_id,
                    where,
                    f"“{operator.replace('_', ' ')}” compares numbers: give a number like 3 or 4.5.",
                    "not_a_number",
                )
            )
    return problems


def _reads(data: Mapping[str, Any]) -> set[str]:
    rules = data.get("rules") or []
    named = {
        r["variable"] for r in rules if isinstance(r, dict) and isinstance(r.get("variable"), str)
    }
    return named | placeholders(data)


BLOCK = BlockType(
    type="condition",
    label="Condition",
    description="Checks variables and continues on “true” or “false”.",
    schema=SCHEMA,
    handles=(Handle("true", "True"), Handle("false", "False")),
    semantic=_semantic,
    reads=_reads,
    defaults={"match": "all", "rules": [{"variable": "", "operator": "equals", "value": ""}]},
)
