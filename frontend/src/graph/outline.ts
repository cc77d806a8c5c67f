/** A flow as a list a person can read top to bottom: every block in the order a conversation
 * meets it (from Start, each way out in the block's own order, depth first so a branch reads
 * to its end before the next), then the blocks nothing leads to. The phone view shows it in
 * place of the inspector (docs/adr/0008-flow-editor.md). */

import type { BlockType, DocEdge, DocNode, JsonObject } from "../types";
import { START, handlesFor } from "./ops";
import { accessibleName, blockSummary } from "./summary";

export interface OutlineExit {
  /** The way out: "Next", "True", a quick reply's title. */
  label: string;
  /** The block it leads to, or null: the conversation ends (or waits) there. */
  target: string | null;
  targetName: string | null;
  required: boolean;
}

export interface OutlineEntry {
  id: string;
  type: string;
  /** What the canvas calls the block: "Send message: Hello! How can we help?". */
  name: string;
  /** Whether a conversation can reach it from Start. */
  reachable: boolean;
  exits: OutlineExit[];
}

type OutlineNode = Pick<DocNode, "id" | "type" | "position"> & { data: JsonObject };
type OutlineEdge = Pick<DocEdge, "source" | "target"> & { sourceHandle?: string | null };

export function flowOutline(
  nodes: readonly OutlineNode[],
  edges: readonly OutlineEdge[],
  blocks: Readonly<Record<string, BlockType>>,
  eventLabel: (key: string) => string | undefined = () => undefined,
): OutlineEntry[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const names = new Map(
    nodes.map((n) => {
      const block = blocks[n.type];
      return [n.id, accessibleName(block, n.type, blockSummary(block, n.data, eventLabel))];
    }),
  );
  const outgoing = new Map<string, OutlineEdge[]>();
  for (const edge of edges) {
    if (!byId.has(edge.target)) continue;
    outgoing.set(edge.source, [...(outgoing.get(edge.source) ?? []), edge]);
  }
  const exitsOf = (node: OutlineNode): OutlineExit[] => {
    const wired = outgoing.get(node.id) ?? [];
    const handles = handlesFor(
      blocks[node.type],
      node.data,
      new Set(wired.map((e) => e.sourceHandle ?? "next")),
    );
    return handles.map((handle) => {
      const target = wired.find((e) => (e.sourceHandle ?? "next") === handle.id)?.target ?? null;
      return {
        label: handle.label,
        target,
        targetName: target === null ? null : (names.get(target) ?? target),
        required: handle.required,
      };
    });
  };

  const order: string[] = [];
  const seen = new Set<string>();
  const start = nodes.find((n) => n.type === START);
  // Depth first without recursion (a long flow must not overflow the stack).
  const stack = start ? [start.id] : [];
  while (stack.length) {
    const id = stack.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    order.push(id);
    const node = byId.get(id) as OutlineNode;
    const next = exitsOf(node)
      .map((exit) => exit.target)
      .filter((target): target is string => target !== null && !seen.has(target));
    stack.push(...next.reverse());
  }
  const unreachable = nodes
    .filter((n) => !seen.has(n.id))
    .sort((a, b) => a.position.y - b.position.y || a.position.x - b.position.x)
    .map((n) => n.id);

  return [...order, ...unreachable].map((id) => {
    const node = byId.get(id) as OutlineNode;
    return {
      id,
      type: node.type,
      name: names.get(id) ?? id,
      reachable: seen.has(id),
      exits: exitsOf(node),
    };
  });
}
