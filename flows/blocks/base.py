"""What every block type is made of, and the helpers their modules share."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

if TYPE_CHECKING:
    from flows.blocks.steps import StepInput, StepResult

ERROR = "error"
WARNING = "warning"

VARIABLE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,39})\s*\}\}")
# Variables every conversation has without an `ask` setting them: who and where, the `ref` it
# came with, and whether it started from a click-to-Messenger ad ("yes"/"no") and which.
SYSTEM_VARIABLES = frozenset({"psid", "page_id", "ref", "from_ad", "ad_id"})


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
    """An outgoing connection point of a block (an edge's `sourceHandle`).

    `label_when_branching`, when set, is the label while the block is *branching*: while at
    least one of its item handles (`DynamicHandles`) is connected, e.g. "Any other answer" for
    the `next` of a block whose quick replies lead elsewhere.
    """

    id: str
    label: str
    required: bool = True
    label_when_branching: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "required": self.required,
            "label_when_branching": self.label_when_branching,
        }


ITEM_ID_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"
ITEM_ID_RE = re.compile(ITEM_ID_PATTERN)


@dataclass(frozen=True)
class DynamicHandles:
    """Handles a block has one per item of a list in its data (ChatbotX-style branches).

    Every item of `data[items]` whose `id` is set (matching `ITEM_ID_PATTERN`) and whose
    properties equal `when` has an optional handle `prefix + id`, labelled with the item's
    `label` property. Items without an id have none, so documents from before ids stay valid.
    """

    items: str  # the data property holding the list, e.g. "quick_replies"
    prefix: str  # the handle id is prefix + the item's id, e.g. "reply-"
    noun: str  # what one item is called in messages, e.g. "quick reply"
    label: str = "title"  # the item property that labels the handle
    when: Mapping[str, Any] = field(default_factory=dict)  # only items with these values

    def entries(self, data: object) -> list[tuple[int, Mapping[str, Any]]]:
        """(index, item) for every object in the list, whatever else it holds."""
        values = data.get(self.items) if isinstance(data, Mapping) else None
        if not isinstance(values, list):
            return []
        return [(i, item) for i, item in enumerate(values) if isinstance(item, Mapping)]

    def applies_to(self, item: Mapping[str, Any]) -> bool:
        return all(item.get(key) == value for key, value in self.when.items())

    def handle_of(self, item: Mapping[str, Any]) -> str | None:
        """The id of the item's handle, or None when it has none."""
        item_id = item.get("id")
        if not isinstance(item_id, str) or not ITEM_ID_RE.match(item_id):
            return None
        return self.prefix + item_id if self.applies_to(item) else None

    def handles(self, data: object) -> list[Handle]:
        found: list[Handle] = []
        seen: set[str] = set()
        for _, item in self.entries(data):
            handle_id = self.handle_of(item)
            if handle_id is None or handle_id in seen:
                continue  # a duplicate id is the block's validation problem; the first counts
            seen.add(handle_id)
            found.append(Handle(handle_id, str(item.get(self.label) or ""), required=False))
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "prefix": self.prefix,
            "label": self.label,
            "when": dict(self.when),
            "noun": self.noun,
            "required": False,
        }


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
    handles: tuple[Handle, ...]  # the static ones, which every block of the type has
    # Handles computed from the block's data: one per item of a list (`handles_for`).
    dynamic_handles: tuple[DynamicHandles, ...] = ()
    semantic: Callable[[Mapping[str, Any], BlockContext], list[Problem]] = lambda data, ctx: []
    sets: Callable[[Mapping[str, Any]], set[str]] = lambda data: set()
    # The variables the block reads: every `{{name}}` in its data unless it says otherwise.
    reads: Callable[[Mapping[str, Any]], set[str]] = lambda data: placeholders(data)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # Fields of `data` that name a variable the block sets (an Ask's "variable"), so an editor
    # can offer `{{name}}` downstream without knowing the block type.
    sets_from: tuple[str, ...] = ()
    waits_for_input: bool = False  # a cycle through such a block waits for the person
    # While branching (an item handle connected), it waits for the person too (send_message).
    waits_when_branching: bool = False
    terminal: bool = False  # the conversation ends here (no outgoing handles)
    # The runtime step (flows/blocks/steps.py): pure, run by flows.interpreter. None: the
    # interpreter ends the conversation at such a block.
    step: Callable[[StepInput], StepResult] | None = None

    def validate(self, data: object, ctx: BlockContext) -> list[Problem]:
        """Schema problems if any; otherwise the block's own semantic rules."""
        problems = schema_problems(self.schema, data, ctx.node_id)
        if problems or not isinstance(data, Mapping):
            return problems
        return (
            all_template_problems(data, ctx.node_id)
            + self.semantic(data, ctx)
            + self._item_id_problems(data, ctx)
        )

    def _item_id_problems(self, data: Mapping[str, Any], ctx: BlockContext) -> list[Problem]:
        """An item id names a handle, so two items of the block may not share one."""
        problems = []
        seen: dict[str, str] = {}
        for spec in self.dynamic_handles:
            for index, item in spec.entries(data):
                item_id = item.get("id")
                if not isinstance(item_id, str):
                    continue
                where = f"{field_path([spec.items, index])}.id"
                if item_id in seen:
                    message = (
                        f"{seen[item_id]} of this block already has the id “{item_id}”: give "
                        "each quick reply and button its own id (it names its connection)."
                    )
                    problems.append(Problem(ctx.node_id, where, message, "duplicate_id"))
                else:
                    seen[item_id] = f"{spec.noun.capitalize()} {index + 1}"
        return problems

    def item_handles(self, data: object) -> list[Handle]:
        """The handles the block has for the items of its data (none without ids)."""
        return [handle for spec in self.dynamic_handles for handle in spec.handles(data)]

    def branching(self, data: object, connected: Collection[str]) -> bool:
        """Whether at least one of the block's item handles is connected."""
        return any(handle.id in connected for handle in self.item_handles(data))

    def handles_for(self, data: object, connected: Collection[str] = ()) -> tuple[Handle, ...]:
        """Every handle of a block with this `data`: the static ones (with their
        `label_when_branching` label if one of `connected` is an item handle), then one per
        item with an id. `connected` is the set of the node's handles that have an edge."""
        items = self.item_handles(data)
        branching = any(handle.id in connected for handle in items)
        static = tuple(
            replace(h, label=h.label_when_branching) if branching and h.label_when_branching else h
            for h in self.handles
        )
        return static + tuple(items)

    def waits(self, data: object, connected: Collection[str]) -> bool:
        """Whether a run of this block waits for the person (a loop through it is fine)."""
        return self.waits_for_input or (
            self.waits_when_branching and self.branching(data, connected)
        )

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
            "handles": [h.as_dict() for h in self.handles],
            "dynamic_handles": [spec.as_dict() for spec in self.dynamic_handles],
            "sets_from": list(self.sets_from),
            "waits_for_input": self.waits_for_input,
            "waits_when_branching": self.waits_when_branching,
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
    required: Any = error.validator_value  # the schema's `required` list
    instance: Any = error.instance
    return next((name for name in required if name not in instance), "")


def _describe(error: SchemaError) -> tuple[str, str]:
    """A message that says what is wrong and how to fix it, and a stable code."""
    # What failed and the schema's limit are JSON values of any type, as jsonschema says.
    value: Any = error.instance
    limit: Any = error.validator_value
    kind = error.validator
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
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
        extra = sorted(set(value) - set(schema.get("properties", {})))
        return f"Unknown setting {', '.join(map(repr, extra))}: remove it.", "unknown_field"
    if kind == "pattern":
        hint = schema.get("description", "")
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


def item_id_schema(noun: str, prefix: str) -> dict[str, Any]:
    """The optional `id` of a quick reply or button: it names the item's own handle."""
    return {
        "type": "string",
        "pattern": ITEM_ID_PATTERN,
        "title": "Connection id",
        "description": f"1 to 40 letters, digits, _ or -, unique in the block: names this "
        f"{noun}'s own connection ({prefix}<id>). The editor sets it.",
    }


QUICK_REPLIES_SCHEMA = {
    "type": "array",
    "title": "Quick replies",
    "description": "Up to 13 buttons shown above the keyboard (Messenger's limit).",
    "maxItems": 13,
    "items": {
        "type": "object",
        "title": "Quick reply",
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
            "id": item_id_schema("quick reply", "reply-"),
        },
    },
}
QUICK_REPLY_HANDLES = DynamicHandles(items="quick_replies", prefix="reply-", noun="quick reply")
ANY_OTHER_ANSWER = "Any other answer"
