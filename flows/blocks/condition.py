"""`condition`: compare variables, then continue on the "true" or the "false" handle.

The system variables `from_ad` ("yes"/"no") and `ad_id` let a flow branch on whether the
conversation started from a click-to-Messenger ad, and on which (messenger.runtime)."""

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
from flows.blocks.steps import StepInput, StepResult, substitute

OPERATORS = ("equals", "not_equals", "contains", "greater_than", "less_than", "is_set")
OPERATOR_LABELS = {
    "equals": "equals",
    "not_equals": "does not equal",
    "contains": "contains",
    "greater_than": "is greater than",
    "less_than": "is less than",
    "is_set": "is set (not empty)",
}
MATCH_LABELS = {"all": "All rules hold", "any": "Any rule holds"}
NUMERIC = frozenset({"greater_than", "less_than"})

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["rules"],
    "properties": {
        "match": {
            "enum": list(MATCH_LABELS),
            "x-enumLabels": MATCH_LABELS,
            "default": "all",
            "title": "True when",
            "description": "Every rule must hold, or at least one.",
        },
        "rules": {
            "type": "array",
            "minItems": 1,
            "maxItems": 20,
            "title": "Rules",
            "items": {
                "type": "object",
                "title": "Rule",
                "additionalProperties": False,
                "required": ["variable", "operator"],
                "properties": {
                    "variable": VARIABLE_NAME_SCHEMA,
                    "operator": {
                        "enum": list(OPERATORS),
                        "x-enumLabels": OPERATOR_LABELS,
                        "title": "Is",
                    },
                    "value": {
                        "type": ["string", "number"],
                        "title": "Value",
                        "description": "Compared as text (equals, contains: ignoring case) "
                        "or as a number (greater than, less than); may use {{variables}}.",
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


def _number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def rule_holds(rule: Mapping[str, Any], variables: Mapping[str, str]) -> bool:
    """One rule over the variables. Text compares case-insensitively, ignoring surrounding
    spaces (and numerically when both sides are numbers: "5" equals 5.0); a comparison of
    numbers where either side is not one is false; `is_set` means set and not blank."""
    actual = variables.get(str(rule.get("variable", "")), "")
    operator = rule.get("operator")
    if operator == "is_set":
        return actual.strip() != ""
    expected = substitute(rule.get("value", ""), variables)
    left, right = _number(actual), _number(expected)
    if operator in NUMERIC:
        if left is None or right is None:
            return False
        return left > right if operator == "greater_than" else left < right
    same = (
        left == right
        if left is not None and right is not None
        else actual.strip().casefold() == expected.strip().casefold()
    )
    if operator == "equals":
        return same
    if operator == "not_equals":
        return not same
    if operator == "contains":
        return expected.strip().casefold() in actual.casefold()
    return False


def step(turn: StepInput) -> StepResult:
    """Leave by "true" when all (or, with match "any", any) of the rules hold, else "false"."""
    rules = [r for r in turn.data.get("rules") or [] if isinstance(r, Mapping)]
    results = (rule_holds(rule, turn.variables) for rule in rules)
    holds = any(results) if turn.data.get("match") == "any" else all(results)
    return StepResult(handle="true" if holds and rules else "false")


BLOCK = BlockType(
    type="condition",
    label="Condition",
    description="Checks variables and continues on “true” or “false”; “from_ad” (yes/no) "
    "and “ad_id” tell whether the person came from a click-to-Messenger ad, and which.",
    schema=SCHEMA,
    handles=(Handle("true", "True"), Handle("false", "False")),
    semantic=_semantic,
    reads=_reads,
    defaults={"match": "all", "rules": [{"variable": "", "operator": "equals", "value": ""}]},
    step=step,
)
