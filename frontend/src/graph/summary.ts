/** One line saying what a block does: its title on the canvas and in its accessible name. */

import type { BlockType, Json, JsonObject } from "../types";

function text(value: Json | undefined): string {
  return typeof value === "string" ? value.trim() : "";
}

/** `eventLabel` turns an event key into its catalog label ("purchase" -> "Purchase"). */
export function blockSummary(
  block: BlockType | undefined,
  data: JsonObject,
  eventLabel: (key: string) => string | undefined = () => undefined,
): string {
  const event = text(data.event);
  if (event) return eventLabel(event) ?? event;
  for (const key of ["label", "text", "question", "note"]) {
    const value = text(data[key]);
    if (value) return value;
  }
  const rules = data.rules;
  if (Array.isArray(rules) && rules.length) {
    const first = rules[0];
    if (first && typeof first === "object" && !Array.isArray(first) && text(first.variable)) {
      const more = rules.length > 1 ? ` (+${rules.length - 1} more)` : "";
      return (
        `${text(first.variable)} ${text(first.operator).replace(/_/g, " ")} ${
          typeof first.value === "number" ? String(first.value) : text(first.value)
        }`.trim() + more
      );
    }
  }
  return block ? "" : "Unknown block";
}

export function accessibleName(
  block: BlockType | undefined,
  type: string,
  summary: string,
): string {
  const label = block?.label ?? type;
  return summary ? `${label}: ${summary}` : label;
}
