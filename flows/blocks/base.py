"""What every block type is made of, and the helpers their modules share."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

if TYPE_CHECKING:
    from flows.blocks.steps import StepInput, StepResult

ERROR = "error"
WARNING = "warning"

VARIABLE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,39})\s*\}\}")
# Variables every conversation has without an `ask` setting them.
SYSTEM_VARIABLES = frozenset({"psid", "page_id", "ref"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flow, pointing at the block and field to fix."""

    node_id: str | None
    field: str
    message: str
    code: str
    severity: str = ERROR

    def as_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "field": self.field,
            "message": self.message,
            "severity": self.severity,
            "code": self.code,
        }


@dataclass(frozen=True)
class Handle:
    """An outgoing connection point of a block (an edge's `sourceHandle`)."""

    id: str
    label: str
    required: bool = True


@dataclass(frozen=True)
class BlockContext:
    """What a block's validation may know beyond its own data."""

    node_id: str | None = None
    transport: str | None = None  # the flow's page's transport; None: check what needs none


@dataclass(frozen=True)
class BlockType:
    """One entry of the registry. `validate` assumes nothing about `data`: schema first."""

    type: str
    label: str
    description: str
    schema: Mapping[str, Any]
    handles: tuple[Handle, ...]
    semantic: Callable[[Mapping[str, Any], BlockContext], list[Problem]] = lambda data, ctx: []
    sets: Callable[[Mapping[str, Any]], set[str]] = lambda data: set()
    # The variables the block reads: every `{{name}}` in its data unless it says otherwise.
    reads: Callable[[Mapping[str, Any]], set[str]] = lambda data: placeholders(data)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # Fields of `data` that name a variable the block sets (an Ask's "variable"), so an editor
    # can offer `{{name}}` downstream without knowing the block type.
    sets_from: tuple[str, ...] = ()
    waits_for_input: bool = False  # a cycle through such a block waits for the person
    terminal: bool = False  # the conversation ends here (no outgoing handles)
    # The runtime step (flows/blocks/steps.py): pure, run by flows.interpreter. None: the
    # interpreter ends the conversation at such a block.
    step: Callable[[StepInput], StepResult] | None = None

    def validate(self, data: object, ctx: BlockContext) -> list[Problem]:
        """Schema problems if any; otherwise the block's own semantic rules."""
        problems = schema_problems(self.schema, data, ctx.node_id)
        if problems or not isinstance(data, Mapping):
            return problems
        return all_template_problems(data, ctx.node_id) + self.semantic(data, ctx)

    def uses(self, data: object) -> set[str]:
        """The variables this block's data reads."""
        return self.reads(data) if isinstance(data, Mapping) else set()

    def palette(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "label": self.label,
            "description": self.description,
            "schema": dict(self.schema),
            "defaults": dict(self.defaults),
            "handles": [
                {"id": h.id, "label": h.label, "required": h.required} for h in self.handles
            ],
            "sets_from": list(self.sets_from),
            "waits_for_input": self.waits_for_input,
            "terminal": self.terminal,
        }


def field_path(path: Iterable[str | int]) -> str:
    """`["quick_replies", 0, "title"]` -> `quick_replies[0].title`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _missing(error: SchemaError) -> str:
    """The property a `required` error is about (jsonschema reports each one separately)."""
    match = re.fullmatch(r"'(.*)' is a required property", error.message)
    if match:
        return match.group(1)
    return next((name for name in error.validator_value if name not in error.instance), "")


def _describe(error: SchemaError) -> tuple[str, str]:
    """A message that says what is wrong and how to fix it, and a stable code."""
    value, kind, limit = error.instance, error.validator, error.validator_value
    if kind == "required":
        return f"“{_missing(error)}” is required: fill it in.", "required"
    if kind == "maxLength":
        return f"At most {limit} characters (this has {len(value)}): shorten it.", "too_long"
    if kind == "minLength":
        return "This is empty: fill it in." if limit == 1 else f"At least {limit} characters.", (
            "blank" if limit == 1 else "too_short"
        )
    if kind == "maxItems":
        return f"At most {limit} of these (there are {len(value)}): remove some.", "too_many"
    if kind == "minItems":
        return f"Add at least {limit}.", "too_few"
    if kind == "maxProperties":
        return f"At most {limit} entries (there are {len(value)}): remove some.", "too_many"
    if kind == "enum":
        return "Pick one of: " + ", ".join(map(str, limit)) + ".", "invalid_choice"
    if kind == "type":
        wanted = " or ".join(limit) if isinstance(limit, list) else limit
        return f"Must be a {wanted}.", "wrong_type"
    if kind == "additionalProperties":
        extra = sorted(set(value) - set(error.schema.get("properties", {})))
        return f"Unknown setting {', '.join(map(repr, extra))}: remove it.", "unknown_field"
    if kind == "pattern":
        hint = error.schema.get("description", "")
        return f"Not allowed here. {hint}".strip(), "invalid_format"
    if kind in {"minimum", "maximum"}:
        return f"Must be {'at least' if kind == 'minimum' else 'at most'} {limit}.", "out_of_range"
    return error.message, "invalid"


def schema_problems(schema: Mapping[str, Any], data: object, node_id: str | None) -> list[Problem]:
    """The schema's complaints about `data`, as problems sorted by field."""
    problems = []
    for error in Draft202012Validator(schema).iter_errors(data):
        message, code = _describe(error)
        path = list(error.absolute_path)
        if error.validator == "required":
            path.append(_missing(error))
        problems.append(Problem(node_id, field_path(path), message, code))
    return sorted(problems, key=lambda p: (p.field, p.code))


def placeholders(value: object) -> set[str]:
    """Every `{{variable}}` named anywhere inside `value` (strings, lists, dict values)."""
    if isinstance(value, str):
        return set(PLACEHOLDER_RE.findall(value))
    if isinstance(value, Mapping):
        return set().union(*(placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value)) if value else set()
    return set()


def template_problems(text: str, node_id: str | None, path: str) -> list[Problem]:
    """A `{{` that does not open a well-formed `{{variable}}` is a typo the person must fix."""
    stripped = PLACEHOLDER_RE.sub("", text)
    if "{{" in stripped or "}}" in stripped:
        return [
            Problem(
                node_id,
                path,
                "A placeholder is malformed: write {{variable_name}} (letters, digits and _, "
                "starting with a letter or _).",
                "bad_placeholder",
            )
        ]
    return []


def all_template_problems(value: object, node_id: str | None, path: str = "") -> list[Problem]:
    """`template_problems` for every string inside `value`, each with its own field path."""
    if isinstance(value, str):
        return template_problems(value, node_id, path)
    if isinstance(value, Mapping):
        return [
            p
            for key, item in value.items()
            for p in all_template_problems(item, node_id, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(value, list):
        return [
            p
            for i, item in enumerate(value)
            for p in all_template_problems(item, node_id, f"{path}[{i}]")
        ]
    return []


def is_template(value: object) -> bool:
    return isinstance(value, str) and PLACEHOLDER_RE.search(value) is not None


NEXT = Handle("next", "Next")

# JSON Schema pieces several blocks share.
LABEL_ONLY_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"label": {"type": "string", "maxLength": 100, "title": "Label"}},
}
VARIABLE_NAME_SCHEMA = {
    "type": "string",
    "pattern": VARIABLE_NAME_RE.pattern,
    "title": "Variable",
    "description": "Letters, digits and _, starting with a letter or _ (at most 40).",
}
QUICK_REPLIES_SCHEMA = {
    "type": "array",
    "title": "Quick replies",
    "description": "Up to 13 buttons shown above the keyboard (Messenger's limit).",
    "maxItems": 13,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["title"],
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 20, "title": "Title"},
            "payload": {
                "type": "string",
                "maxLength": 1000,
                "title": "Payload",
                "description": "Sent back when tapped; defaults to the title.",
            },
        },
    },
}
