/** The block registry's JSON Schemas checked in the browser, with the server's own words.
 *
 * A small interpreter of the keywords the registry uses (type, enum, const, required,
 * properties, additionalProperties, items, min/maxItems, min/maxLength, maxProperties,
 * pattern, minimum, maximum). Messages and codes are flows/blocks/base.py's `_describe`, and
 * problems come sorted by (field, code) as `schema_problems` sorts them; a shared table of
 * cases (tests/flows/client_check_cases.json) holds both sides to it. No `eval`: the page's
 * Content-Security-Policy forbids it, which rules out ajv's compiled validators. */

import type { Json, JsonSchema } from "../types";
import { pyLen, pyRepr } from "./pyrepr";

export interface ClientProblem {
  field: string;
  message: string;
  code: string;
}

type Path = (string | number)[];

/** `["quick_replies", 0, "title"]` -> `quick_replies[0].title` (flows.blocks.base.field_path). */
export function fieldPath(path: Path): string {
  let text = "";
  for (const part of path) {
    text += typeof part === "number" ? `[${part}]` : text ? `.${part}` : part;
  }
  return text;
}

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function typeMatches(type: string, value: Json): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "boolean":
      return typeof value === "boolean";
    case "null":
      return value === null;
    case "array":
      return Array.isArray(value);
    case "object":
      return isObject(value);
    default:
      return true;
  }
}

/** Python's str() of a JSON value, as `", ".join(map(str, limit))` writes enum choices. */
function pyStr(value: Json): string {
  if (value === null) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function equal(a: Json, b: Json): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function check(schema: JsonSchema, value: Json, path: Path, out: ClientProblem[]): void {
  const add = (message: string, code: string, at: Path = path) =>
    out.push({ field: fieldPath(at), message, code });
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => typeMatches(t, value))) {
      add(`Must be a ${types.join(" or ")}.`, "wrong_type");
    }
  }
  if (schema.enum && !schema.enum.some((choice) => equal(choice, value))) {
    add("Pick one of: " + schema.enum.map(pyStr).join(", ") + ".", "invalid_choice");
  }
  if (typeof value === "string") {
    const length = pyLen(value);
    if (schema.maxLength !== undefined && length > schema.maxLength) {
      add(`At most ${schema.maxLength} characters (this has ${length}): shorten it.`, "too_long");
    }
    if (schema.minLength !== undefined && length < schema.minLength) {
      if (schema.minLength === 1) add("This is empty: fill it in.", "blank");
      else add(`At least ${schema.minLength} characters.`, "too_short");
    }
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) {
      add(`Not allowed here. ${schema.description ?? ""}`.trim(), "invalid_format");
    }
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) {
      add(`Must be at least ${schema.minimum}.`, "out_of_range");
    }
    if (schema.maximum !== undefined && value > schema.maximum) {
      add(`Must be at most ${schema.maximum}.`, "out_of_range");
    }
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      add(
        `At most ${schema.maxItems} of these (there are ${value.length}): remove some.`,
        "too_many",
      );
    }
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      add(`Add at least ${schema.minItems}.`, "too_few");
    }
    if (schema.items) {
      const items = schema.items;
      value.forEach((item, index) => check(items, item, [...path, index], out));
    }
  }
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) {
      add(
        `At most ${schema.maxProperties} entries (there are ${keys.length}): remove some.`,
        "too_many",
      );
    }
    for (const name of schema.required ?? []) {
      if (!(name in value)) add(`“${name}” is required: fill it in.`, "required", [...path, name]);
    }
    const properties = schema.properties ?? {};
    for (const [name, sub] of Object.entries(properties)) {
      const item = value[name];
      if (item !== undefined) check(sub, item, [...path, name], out);
    }
    const extra = keys.filter((key) => !(key in properties));
    if (schema.additionalProperties === false && extra.length) {
      add(`Unknown setting ${extra.sort().map(pyRepr).join(", ")}: remove it.`, "unknown_field");
    } else if (isObject(schema.additionalProperties as Json)) {
      const sub = schema.additionalProperties as JsonSchema;
      for (const key of extra) {
        const item = value[key];
        if (item !== undefined) check(sub, item, [...path, key], out);
      }
    }
  }
}

function byFieldThenCode(a: ClientProblem, b: ClientProblem): number {
  return a.field < b.field
    ? -1
    : a.field > b.field
      ? 1
      : a.code < b.code
        ? -1
        : a.code > b.code
          ? 1
          : 0;
}

export function schemaProblems(schema: JsonSchema, data: Json): ClientProblem[] {
  const out: ClientProblem[] = [];
  check(schema, data, [], out);
  return out.sort(byFieldThenCode);
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,39})\s*\}\}/g;

/** flows.blocks.base.template_problems for every string inside `value`. */
export function templateProblems(value: Json, path = ""): ClientProblem[] {
  if (typeof value === "string") {
    const stripped = value.replace(PLACEHOLDER, "");
    if (stripped.includes("{{") || stripped.includes("}}")) {
      return [
        {
          field: path,
          message:
            "A placeholder is malformed: write {{variable_name}} (letters, digits and _, " +
            "starting with a letter or _).",
          code: "bad_placeholder",
        },
      ];
    }
    return [];
  }
  if (Array.isArray(value)) {
    return value.flatMap((item, index) => templateProblems(item, `${path}[${index}]`));
  }
  if (isObject(value)) {
    return Object.entries(value).flatMap(([key, item]) =>
      templateProblems(item, path ? `${path}.${key}` : key),
    );
  }
  return [];
}
