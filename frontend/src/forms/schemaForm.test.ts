import { describe, expect, it } from "vitest";
import { BLOCKS, block } from "../test/fixtures";
import type { JsonSchema } from "../types";
import {
  asText,
  enumOptions,
  fieldsFor,
  humanize,
  jsonText,
  newItem,
  singular,
  without,
  type FieldSpec,
} from "./schemaForm";

type ListSpec = Extract<FieldSpec, { kind: "list" }>;

function fieldOf(fields: FieldSpec[], key: string): FieldSpec {
  const found = fields.find((f) => f.key === key);
  if (!found) throw new Error(`no field ${key}`);
  return found;
}

function listOf(fields: FieldSpec[], key: string): ListSpec {
  const found = fieldOf(fields, key);
  if (found.kind !== "list") throw new Error(`${key} is a ${found.kind}`);
  return found;
}

function isObjectArray(schema: JsonSchema): boolean {
  const types = [schema.type ?? []].flat();
  const items = [schema.items?.type ?? []].flat();
  return types.includes("array") && items.includes("object");
}

/** What every generated field must say about its schema, recursively into list items. */
function expectFaithful(schema: JsonSchema, fields: FieldSpec[]): void {
  const properties = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  for (const f of fields) {
    const sub = properties[f.key];
    expect(sub, f.key).toBeDefined();
    if (!sub) continue;
    expect(f.label.trim(), f.key).not.toBe("");
    expect(f.label, f.key).toBe(sub.title ?? humanize(f.key));
    expect(f.description, f.key).toBe(sub.description ?? "");
    expect(f.required, f.key).toBe(required.has(f.key));
    expect(f.path, f.key).toBe(f.key);
    if (sub.enum) {
      expect(f.kind, f.key).toBe("select");
      if (f.kind === "select") {
        expect(f.options.map((o) => o.value)).toEqual(sub.enum.map(String));
        for (const option of f.options) expect(option.label.trim()).not.toBe("");
        expect(f.placeholder).toBe(sub.default === undefined);
      }
    } else if (isObjectArray(sub)) {
      expect(f.kind, f.key).toBe("list");
      if (f.kind === "list" && sub.items) {
        expect(f.itemSchema).toBe(sub.items);
        expect(f.itemLabel.trim()).not.toBe("");
        expect(f.maxItems).toBe(sub.maxItems ?? null);
        expect(f.minItems).toBe(sub.minItems ?? 0);
        const itemKeys = Object.keys(sub.items.properties ?? {}).filter(
          (k) => !(f.withIds && k === "id"),
        );
        expect(f.itemFields.map((i) => i.key)).toEqual(itemKeys);
        expectFaithful(sub.items, f.itemFields);
      }
    }
  }
}

describe("fieldsFor, for every block the registry serves", () => {
  it.each(BLOCKS.map((b) => [b.type, b] as const))("%s: a field per schema property", (_, b) => {
    const fields = fieldsFor(b.schema);
    expect(fields.map((f) => f.key)).toEqual(Object.keys(b.schema.properties ?? {}));
    expectFaithful(b.schema, fields);
  });

  it("send_message: the message is long text with variables; replies and buttons are lists", () => {
    const fields = fieldsFor(block("send_message").schema);
    expect(fieldOf(fields, "text")).toEqual({
      key: "text",
      path: "text",
      label: "Message",
      description: "What the bot says; {{variables}} are filled in.",
      required: true,
      kind: "text",
      multiline: true,
      maxLength: 1999,
      template: true,
      variableName: false,
      nullable: false,
    });
    const replies = listOf(fields, "quick_replies");
    expect(replies).toMatchObject({
      label: "Quick replies",
      itemLabel: "Quick reply",
      maxItems: 13,
      minItems: 0,
      withIds: true, // each quick reply has an id: its own output handle
    });
    // The id is generated, never typed: it is not a field of the item's form.
    expect(replies.itemFields.map((f) => [f.key, f.kind, f.required])).toEqual([
      ["title", "text", true],
      ["payload", "text", false],
    ]);
    const buttons = listOf(fields, "buttons");
    expect(buttons.itemLabel).toBe("Button");
    expect(fieldOf(buttons.itemFields, "type")).toMatchObject({
      kind: "select",
      label: "Kind",
      required: true,
      placeholder: true,
      options: [
        { value: "postback", label: "Reply button" },
        { value: "web_url", label: "Link" },
      ],
    });
  });

  it("ask: the variable is a name, not a template; the check is a select with a default", () => {
    const fields = fieldsFor(block("ask").schema);
    expect(fieldOf(fields, "variable")).toMatchObject({
      kind: "text",
      label: "Save the answer as",
      required: true,
      variableName: true,
      template: false,
    });
    expect(fieldOf(fields, "check")).toMatchObject({
      kind: "select",
      placeholder: false,
      options: [
        { value: "text", label: "Any text" },
        { value: "email", label: "An email address" },
        { value: "phone", label: "A phone number" },
        { value: "number", label: "A number" },
      ],
    });
  });

  it("condition: rules are a list of at least one, whose value may be text or a number", () => {
    const rules = listOf(fieldsFor(block("condition").schema), "rules");
    expect(rules).toMatchObject({ itemLabel: "Rule", minItems: 1, maxItems: 20, required: true });
    expect(fieldOf(rules.itemFields, "variable")).toMatchObject({ variableName: true });
    expect(fieldOf(rules.itemFields, "operator")).toMatchObject({
      kind: "select",
      label: "Is",
      options: [
        { value: "equals", label: "equals" },
        { value: "not_equals", label: "does not equal" },
        { value: "contains", label: "contains" },
        { value: "greater_than", label: "is greater than" },
        { value: "less_than", label: "is less than" },
        { value: "is_set", label: "is set (not empty)" },
      ],
    });
    expect(fieldOf(rules.itemFields, "value")).toMatchObject({ kind: "text", nullable: true });
  });

  it("log_event: params are key/value pairs, value nullable, currency a short code", () => {
    const fields = fieldsFor(block("log_event").schema);
    expect(fieldOf(fields, "params")).toEqual({
      key: "params",
      path: "params",
      label: "Parameters",
      description: "Key-value pairs; values may use {{variables}}.",
      required: false,
      kind: "keyvalue",
      maxEntries: null,
    });
    expect(fieldOf(fields, "event")).toMatchObject({ kind: "text", required: true });
    expect(fieldOf(fields, "value")).toMatchObject({ kind: "text", nullable: true });
    expect(fieldOf(fields, "currency")).toMatchObject({
      kind: "text",
      maxLength: 3,
      template: false,
      multiline: false,
    });
    expect(fieldOf(fields, "logging_target")).toMatchObject({
      kind: "select",
      options: [
        { value: "page", label: "The Page (shows in its Ads Manager)" },
        { value: "app_and_page", label: "The app and the Page" },
        { value: "app", label: "The app only" },
      ],
    });
  });
});

describe("a block type the editor has never seen", () => {
  const schema: JsonSchema = {
    type: "object",
    additionalProperties: false,
    required: ["greeting", "mood", "steps"],
    properties: {
      greeting: { type: "string", minLength: 1, maxLength: 640, title: "Greeting" },
      code: { type: "string", pattern: "^[A-Z]{3}$" },
      mood: { enum: ["happy", "sad"], "x-enumLabels": { happy: "Happy 😀" } },
      size: { oneOf: [{ const: 1, title: "Small" }, { const: 2 }] },
      loud: { type: "boolean", title: "Shout it" },
      repeat: { type: "integer", minimum: 1, maximum: 5 },
      ratio: { type: "number" },
      steps: {
        type: "array",
        maxItems: 4,
        items: {
          type: "object",
          required: ["label", "kind"],
          properties: {
            id: { type: "string" },
            label: { type: "string", maxLength: 20 },
            kind: { enum: ["a", "b"] },
            weight: { type: "number", default: 1 },
          },
        },
      },
      headers: { type: "object", additionalProperties: { type: "string" }, maxProperties: 5 },
      config: { type: "object", properties: { a: { type: "string" } } },
      tags: { type: "array", items: { type: "string" } },
    },
  };
  const fields = fieldsFor(schema);

  it("gets a form from its schema alone", () => {
    expect(fields.map((f) => [f.key, f.kind, f.label, f.required])).toEqual([
      ["greeting", "text", "Greeting", true],
      ["code", "text", "Code", false],
      ["mood", "select", "Mood", true],
      ["size", "select", "Size", false],
      ["loud", "checkbox", "Shout it", false],
      ["repeat", "number", "Repeat", false],
      ["ratio", "number", "Ratio", false],
      ["steps", "list", "Steps", true],
      ["headers", "keyvalue", "Headers", false],
      ["config", "json", "Config", false],
      ["tags", "json", "Tags", false],
    ]);
    expectFaithful(schema, fields);
  });

  it("reads each keyword the form needs", () => {
    expect(fieldOf(fields, "greeting")).toMatchObject({ multiline: true, template: true });
    expect(fieldOf(fields, "code")).toMatchObject({ template: false, variableName: false });
    expect(fieldOf(fields, "mood")).toMatchObject({
      options: [
        { value: "happy", label: "Happy 😀" },
        { value: "sad", label: "Sad" },
      ],
      placeholder: true,
    });
    expect(fieldOf(fields, "size")).toMatchObject({
      options: [
        { value: "1", label: "Small" },
        { value: "2", label: "2" },
      ],
    });
    expect(fieldOf(fields, "repeat")).toMatchObject({ integer: true, minimum: 1, maximum: 5 });
    expect(fieldOf(fields, "ratio")).toMatchObject({
      integer: false,
      minimum: null,
      maximum: null,
    });
    expect(fieldOf(fields, "headers")).toMatchObject({ maxEntries: 5 });
  });

  it("gives list items with an id property ids, and leaves the id out of the item's form", () => {
    const steps = listOf(fields, "steps");
    expect(steps).toMatchObject({ withIds: true, itemLabel: "Step", maxItems: 4, minItems: 0 });
    expect(steps.itemFields.map((f) => [f.key, f.kind, f.required])).toEqual([
      ["label", "text", true],
      ["kind", "select", true],
      ["weight", "number", false],
    ]);
    expect(newItem(steps, "x1y2z3")).toEqual({ id: "x1y2z3", label: "", kind: "a", weight: 1 });
  });
});

describe("newItem", () => {
  it("fills required texts empty and required choices with their first option", () => {
    const sm = fieldsFor(block("send_message").schema);
    expect(newItem(listOf(sm, "quick_replies"), null)).toEqual({ title: "" });
    expect(newItem(listOf(sm, "buttons"), null)).toEqual({ type: "postback", title: "" });
    const rules = listOf(fieldsFor(block("condition").schema), "rules");
    expect(newItem(rules, null)).toEqual({ variable: "", operator: "equals" });
  });

  it("puts the id first when the list's items carry ids", () => {
    const replies = listOf(fieldsFor(block("send_message").schema), "quick_replies");
    expect(Object.keys(newItem(replies, "abc123"))).toEqual(["id", "title"]);
  });
});

describe("small helpers", () => {
  it("humanizes keys and singularizes labels", () => {
    expect(humanize("retry_message")).toBe("Retry message");
    expect(humanize("_")).toBe("_");
    expect(singular("Quick replies")).toBe("Quick reply");
    expect(singular("Addresses")).toBe("Address");
    expect(singular("Buttons")).toBe("Button");
    expect(singular("Data")).toBe("Data");
  });

  it("writes stored values as text", () => {
    expect(asText(undefined)).toBe("");
    expect(asText(null)).toBe("");
    expect(asText(49.9)).toBe("49.9");
    expect(asText(true)).toBe("true");
    expect(jsonText({ a: [1] })).toBe('{"a":[1]}');
    expect(without({ a: 1, b: 2 }, "a")).toEqual({ b: 2 });
  });

  it("has no options for a schema without choices", () => {
    expect(enumOptions({ type: "string" })).toBeNull();
    expect(enumOptions({ oneOf: [{ const: 1 }, { type: "string" }] })).toBeNull();
  });
});
