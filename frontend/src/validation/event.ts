/** The early, client-side part of events/validation.py for the log-event form: the event name
 * rule, parameter keys, value and currency. Same messages as the server; anything that needs
 * more than the catalog (reserved names, transport rules) is left to the server's check after
 * the draft saves. */

import type { CatalogEvent, Json, JsonObject } from "../types";
import type { ClientProblem } from "./schema";
import { pyLen, pyRepr } from "./pyrepr";

export const EVENT_NAME_RE = /^[0-9a-zA-Z_][0-9a-zA-Z _-]{0,39}$/;
export const NAME_RULE =
  "1 to 40 characters: letters, digits, _, - and spaces, not starting with a space or hyphen";
const TEMPLATE_RE = /\{\{\s*[^{}\s][^{}]*\}\}/;
export const MAX_PARAMS = 25;
export const MAX_VALUE_LENGTH = 100;

export function isTemplate(value: Json | undefined): boolean {
  return typeof value === "string" && TEMPLATE_RE.test(value);
}

/** The catalog event `name` names: its key or either transport's name for it. */
export function resolveEvent(events: readonly CatalogEvent[], name: string): CatalogEvent | null {
  return (
    events.find((e) => e.key === name || Object.values(e.names).some((n) => n === name)) ?? null
  );
}

export interface Reserved {
  logged_by_facebook_prefixes: readonly string[];
  internal_names: readonly string[];
}

const NOTHING_RESERVED: Reserved = { logged_by_facebook_prefixes: [], internal_names: [] };

/** Problems with an event name that is not a catalog event: events/validation.py's
 * `_check_event` and `_check_custom_name`, without the transport rules. */
export function customNameProblems(
  events: readonly CatalogEvent[],
  event: string,
  reserved: Reserved = NOTHING_RESERVED,
): ClientProblem[] {
  if (!event.trim()) {
    return [
      {
        field: "event",
        message: "Name the event: pick a standard event, or type a custom event name.",
        code: "required",
      },
    ];
  }
  const lowered = event.toLowerCase();
  if (reserved.logged_by_facebook_prefixes.some((prefix) => lowered.startsWith(prefix))) {
    return [
      {
        field: "event",
        message:
          `${event} is logged by Facebook itself (every fb_messenger_bot_* event is), so ` +
          "Pagepulse does not send it. Pick another event.",
        code: "logged_by_facebook",
      },
    ];
  }
  if (reserved.internal_names.includes(event)) {
    return [
      {
        field: "event",
        message:
          `${event} is an event Facebook's SDKs log internally; it cannot be sent from a ` +
          "bot. Pick a standard event or another custom name.",
        code: "reserved",
      },
    ];
  }
  if (resolveEvent(events, event)) return [];
  if (!EVENT_NAME_RE.test(event)) {
    return [
      {
        field: "event",
        message: `${pyRepr(event)} is not a valid event name: use ${NAME_RULE}.`,
        code: "invalid_name",
      },
    ];
  }
  for (const e of events) {
    for (const name of [e.key, ...Object.values(e.names)]) {
      if (name && name.toLowerCase() === lowered) {
        return [
          {
            field: "event",
            message: `Did you mean the standard event ${name}? Event names are case-sensitive.`,
            code: "case_mismatch",
          },
        ];
      }
    }
  }
  if (lowered.startsWith("fb_")) {
    return [
      {
        field: "event",
        message:
          `${event}: names starting with fb_ are kept for Facebook's standard events. Pick ` +
          "the standard event from the list, or drop the fb_ prefix.",
        code: "reserved_prefix",
      },
    ];
  }
  return [];
}

function asNumber(value: Json | undefined): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value !== "string") return null;
  const text = value.trim();
  // Python's Decimal(): digits with an optional sign, point and exponent.
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return null;
  return Number(text);
}

/** Parameter keys and lengths, the value and the currency: the rules that need no transport. */
export function eventFieldProblems(
  data: JsonObject,
  found: CatalogEvent | null,
  currencies: ReadonlySet<string>,
): ClientProblem[] {
  const problems: ClientProblem[] = [];
  const params = data.params;
  if (params && typeof params === "object" && !Array.isArray(params)) {
    const keys = Object.keys(params);
    if (keys.length > MAX_PARAMS) {
      problems.push({
        field: "params",
        message:
          `${keys.length} parameters is too many: Facebook takes at most ${MAX_PARAMS} an ` +
          `event. Remove ${keys.length - MAX_PARAMS}.`,
        code: "too_many",
      });
    }
    for (const key of keys) {
      const where = `params.${key}`;
      const value = params[key];
      if (!EVENT_NAME_RE.test(key)) {
        problems.push({
          field: where,
          message: `${pyRepr(key)} is not a valid parameter key: use ${NAME_RULE}.`,
          code: "invalid_key",
        });
      } else if (key.startsWith("_")) {
        problems.push({
          field: where,
          message:
            `${key}: keys starting with _ are Facebook's internal fields (such as _valueToSum). ` +
            "Rename it; put an amount in the event's value instead.",
          code: "reserved_key",
        });
      } else if (key === "fb_currency") {
        problems.push({
          field: where,
          message:
            "Set the currency in the event's currency field, not as the fb_currency parameter.",
          code: "use_currency_field",
        });
      } else if (
        (typeof value === "string" || typeof value === "number") &&
        !isTemplate(value) &&
        pyLen(String(value)) > MAX_VALUE_LENGTH
      ) {
        const length = pyLen(String(value));
        problems.push({
          field: where,
          message:
            `${key}: the value is ${length} characters; Facebook takes at most ` +
            `${MAX_VALUE_LENGTH}. Shorten it.`,
          code: "too_long",
        });
      }
    }
    if (found) {
      for (const param of found.params) {
        if (param.requirement === "required" && !(param.key in params)) {
          problems.push({
            field: `params.${param.key}`,
            message: `${found.label} needs ${param.label} (${param.key}): add it.`,
            code: "required",
          });
        }
      }
    }
  }
  const value = data.value === "" ? null : data.value;
  const currency = typeof data.currency === "string" ? data.currency : "";
  if (value !== null && value !== undefined) {
    if (!isTemplate(value) && asNumber(value) === null) {
      const kind =
        typeof value === "string"
          ? "a str"
          : typeof value === "boolean"
            ? "true/false (use 1 or 0)"
            : "a list (send one value, or JSON text)";
      problems.push({
        field: "value",
        message: `The value is a number, such as 49.90, not ${kind}.`,
        code: "invalid_value",
      });
    }
    const money = !(found && found.takes_value && !found.takes_currency);
    if (money && !currency) {
      problems.push({
        field: "currency",
        message: "A value needs a currency: add its ISO 4217 code, such as USD or EUR.",
        code: "currency_required",
      });
    }
  }
  if (currency && !currencies.has(currency)) {
    problems.push({
      field: "currency",
      message: currencies.has(currency.toUpperCase())
        ? `Write currency codes in capitals: ${currency.toUpperCase()}.`
        : `${pyRepr(currency)} is not an ISO 4217 currency code; use one such as USD or EUR.`,
      code: "invalid_currency",
    });
  }
  return problems;
}
