/** Typed access to the fixtures the server keeps honest (tests/flows/test_editor_contract.py),
 * and small builders the tests share. */

import type { BlockType, EventCatalog, JsonObject } from "../types";
import blocksJson from "./blocks.json";
import catalogJson from "./catalog.json";
import casesJson from "./client_check_cases.json";

export const BLOCKS = blocksJson as unknown as BlockType[];
export const CATALOG = catalogJson as unknown as EventCatalog;

export interface CheckCase {
  name: string;
  block: string;
  exact: boolean;
  data: JsonObject;
  problems: { field: string; message: string; code: string }[];
}

export const CASES = casesJson as unknown as CheckCase[];

/** A sample of ISO 4217 codes (events/currencies.py has them all). */
export const CURRENCIES: [string, string][] = [
  ["EUR", "Euro"],
  ["GBP", "Pound sterling"],
  ["USD", "US dollar"],
];

export function block(type: string): BlockType {
  const found = BLOCKS.find((b) => b.type === type);
  if (!found) throw new Error(`no block ${type} in blocks.json`);
  return found;
}

export const BLOCKS_BY_TYPE: Record<string, BlockType> = Object.fromEntries(
  BLOCKS.map((b) => [b.type, b]),
);
