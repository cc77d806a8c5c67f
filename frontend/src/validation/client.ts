/** Every check the editor runs on a block as it is edited: the schema (with the server's words)
 * and, for blocks that have one, a custom check (the log-event form's event rules). */

import type { BlockType, CatalogEvent, JsonObject, Problem } from "../types";
import { customNameProblems, eventFieldProblems, resolveEvent, type Reserved } from "./event";
import { schemaProblems, templateProblems, type ClientProblem } from "./schema";

export interface CheckContext {
  events: readonly CatalogEvent[];
  currencies: ReadonlySet<string>;
  reserved?: Reserved;
}

type CustomCheck = (data: JsonObject, ctx: CheckContext) => ClientProblem[];

const CUSTOM_CHECKS: Record<string, CustomCheck> = {
  log_event: (data, ctx) => {
    const event = typeof data.event === "string" ? data.event : "";
    const found = resolveEvent(ctx.events, event);
    return [
      ...(found ? [] : customNameProblems(ctx.events, event, ctx.reserved)),
      ...eventFieldProblems(data, found, ctx.currencies),
    ];
  },
};

function asProblem(nodeId: string, problem: ClientProblem): Problem {
  return {
    node_id: nodeId,
    field: problem.field ? `data.${problem.field}` : "data",
    message: problem.message,
    severity: "error",
    code: problem.code,
  };
}

/** The problems the editor can see at once in one block, shaped like the server's. */
export function blockProblems(
  block: BlockType | undefined,
  nodeId: string,
  data: JsonObject,
  ctx: CheckContext,
): Problem[] {
  if (!block) return [];
  const schema = schemaProblems(block.schema, data);
  if (schema.length) return schema.map((p) => asProblem(nodeId, p));
  const custom = CUSTOM_CHECKS[block.type];
  return [...templateProblems(data), ...(custom ? custom(data, ctx) : [])].map((p) =>
    asProblem(nodeId, p),
  );
}
