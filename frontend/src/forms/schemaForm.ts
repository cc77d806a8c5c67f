/** A block's settings form, derived from its JSON Schema alone (GET /api/v1/blocks/), so a new
 * block type in flows/blocks/ needs no editor change. Pure: the React side renders these. */

import type { Json, JsonObject, JsonSchema } from "../types";

export interface Option {
  value: string;
  label: string;
}

interface Base {
  /** The key in its object. */
  key: string;
  /** Where its problems point, relative to the block's data: `quick_replies[0].title`. */
  path: string;
  label: string;
  description: string;
  required: boolean;
}

export type FieldSpec =
  | (Base & {
      kind: "text";
      multiline: boolean;
      maxLength: number | null;
      /** Text that may hold {{variables}} (anything but a name or a code). */
      template: boolean;
      /** A variable's name (an Ask's "Save the answer as", a Condition's variable). */
      variableName: boolean;
      /** The value may be a number or null as well; empty text means null. */
      nullable: boolean;
    })
  | (Base & { kind: "number"; integer: boolean; minimum: number | null; maximum: number | null })
  | (Base & { kind: "select"; options: Option[]; placeholder: boolean })
  | (Base & { kind: "checkbox" })
  | (Base & {
      kind: "list";
      itemLabel: string;
      itemFields: FieldSpec[];
      itemSchema: JsonSchema;
      maxItems: number | null;
      minItems: number;
      /** Items carry a generated `id` (each becomes an output handle of the block). */
      withIds: boolean;
    })
  | (Base & { kind: "keyvalue"; maxEntries: number | null })
  | (Base & { kind: "json" });

export function humanize(key: string): string {
  const words = key.replace(/_/g, " ").trim();
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : key;
}

export function singular(label: string): string {
  if (/ies$/i.test(label)) return label.replace(/ies$/i, "y");
  if (/ses$/i.test(label)) return label.replace(/es$/i, "");
  if (/s$/i.test(label)) return label.replace(/s$/i, "");
  return label;
}

function types(schema: JsonSchema): string[] {
  if (schema.type === undefined) return [];
  return Array.isArray(schema.type) ? schema.type : [schema.type];
}

export function enumOptions(schema: JsonSchema): Option[] | null {
  if (schema.enum) {
    const labels = schema["x-enumLabels"] ?? {};
    return schema.enum.map((value) => {
      const text = jsonText(value);
      return { value: text, label: labels[text] ?? humanize(text) };
    });
  }
  if (schema.oneOf && schema.oneOf.length && schema.oneOf.every((s) => s.const !== undefined)) {
    return schema.oneOf.map((s) => {
      const text = jsonText(s.const ?? null);
      return { value: text, label: s.title ?? humanize(text) };
    });
  }
  return null;
}

const VARIABLE_PATTERN = "^[A-Za-z_][A-Za-z0-9_]{0,39}$";

function field(key: string, schema: JsonSchema, path: string, required: boolean): FieldSpec {
  const base: Base = {
    key,
    path,
    label: schema.title ?? humanize(key),
    description: schema.description ?? "",
    required,
  };
  const options = enumOptions(schema);
  if (options) {
    const hasDefault = schema.default !== undefined && schema.default !== null;
    return { ...base, kind: "select", options, placeholder: !hasDefault };
  }
  const kinds = types(schema);
  if (kinds.includes("array") && schema.items && types(schema.items).includes("object")) {
    const item = schema.items;
    const itemRequired = new Set(item.required ?? []);
    const withIds = Boolean(item.properties?.id);
    return {
      ...base,
      kind: "list",
      itemLabel: item.title ?? singular(base.label),
      itemSchema: item,
      itemFields: Object.entries(item.properties ?? {})
        .filter(([name]) => !(withIds && name === "id"))
        .map(([name, sub]) => field(name, sub, name, itemRequired.has(name))),
      maxItems: schema.maxItems ?? null,
      minItems: schema.minItems ?? 0,
      withIds,
    };
  }
  if (kinds.length === 1 && kinds[0] === "object") {
    const extra = schema.additionalProperties;
    if (typeof extra === "object" && !schema.properties) {
      return { ...base, kind: "keyvalue", maxEntries: schema.maxProperties ?? null };
    }
    return { ...base, kind: "json" };
  }
  if (kinds.length === 1 && kinds[0] === "boolean") return { ...base, kind: "checkbox" };
  if (kinds.length === 1 && (kinds[0] === "number" || kinds[0] === "integer")) {
    return {
      ...base,
      kind: "number",
      integer: kinds[0] === "integer",
      minimum: schema.minimum ?? null,
      maximum: schema.maximum ?? null,
    };
  }
  if (kinds.includes("string") || kinds.length === 0) {
    const variableName = schema.pattern === VARIABLE_PATTERN;
    const maxLength = schema.maxLength ?? null;
    return {
      ...base,
      kind: "text",
      multiline: maxLength !== null && maxLength >= 500,
      maxLength,
      template: !variableName && !schema.pattern && (maxLength === null || maxLength > 3),
      variableName,
      nullable: kinds.includes("null") || kinds.includes("number"),
    };
  }
  return { ...base, kind: "json" };
}

/** The fields of a block's form, in the schema's order. */
export function fieldsFor(schema: JsonSchema): FieldSpec[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([key, sub]) =>
    field(key, sub, key, required.has(key)),
  );
}

/** A new item of a list field: each required text empty, enums at their first choice. */
export function newItem(spec: Extract<FieldSpec, { kind: "list" }>, id: string | null): JsonObject {
  const item: JsonObject = {};
  if (id !== null) item.id = id;
  for (const sub of spec.itemFields) {
    const schema = spec.itemSchema.properties?.[sub.key];
    if (schema?.default !== undefined) item[sub.key] = schema.default;
    else if (sub.kind === "select" && sub.required) item[sub.key] = sub.options[0]?.value ?? "";
    else if (sub.required) item[sub.key] = sub.kind === "number" ? 0 : "";
  }
  return item;
}

/** The value a text field shows for a stored value. */
export function asText(value: Json | undefined): string {
  if (value === null || value === undefined) return "";
  return jsonText(value);
}

/** A scalar as text (numbers and booleans as JSON writes them); objects as JSON. */
export function jsonText(value: Json): string {
  if (value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** `object` without `key`. */
export function without(object: JsonObject, key: string): JsonObject {
  return Object.fromEntries(Object.entries(object).filter(([k]) => k !== key));
}
