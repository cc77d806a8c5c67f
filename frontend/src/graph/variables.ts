/** Which `{{variables}}` a block can use: those set by blocks on some path from Start to it
 * (the server warns, `variable_never_set`, about any other), plus the conversation's own. */

import type { BlockType, DocNode, DocEdge } from "../types";

/** The variables a block's data sets: the fields its registry entry names in `sets_from`
 * (an Ask's "Save the answer as"), and `<name>_payload` where it has quick replies. */
export function variablesSetBy(block: BlockType | undefined, node: DocNode): string[] {
  if (!block) return [];
  const names: string[] = [];
  for (const field of block.sets_from ?? []) {
    const name = node.data[field];
    if (typeof name === "string" && /^[A-Za-z_][A-Za-z0-9_]{0,39}$/.test(name)) {
      names.push(name);
      const replies = node.data.quick_replies;
      if (Array.isArray(replies) && replies.length) names.push(`${name}_payload`);
    }
  }
  return names;
}

/** Variables set upstream of `nodeId` (not by the node itself), sorted, then `system` ones. */
export function upstreamVariables(
  nodes: readonly DocNode[],
  edges: readonly DocEdge[],
  blocks: Readonly<Record<string, BlockType>>,
  nodeId: string,
  system: readonly string[],
): string[] {
  const predecessors = new Map<string, string[]>();
  for (const edge of edges) {
    const list = predecessors.get(edge.target) ?? [];
    list.push(edge.source);
    predecessors.set(edge.target, list);
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const seen = new Set<string>();
  const stack = [...(predecessors.get(nodeId) ?? [])];
  const found = new Set<string>();
  while (stack.length) {
    const id = stack.pop();
    if (id === undefined || seen.has(id)) continue;
    seen.add(id);
    const node = byId.get(id);
    if (!node) continue;
    for (const name of variablesSetBy(blocks[node.type], node)) found.add(name);
    stack.push(...(predecessors.get(id) ?? []));
  }
  const own = [...found].sort();
  return [...own, ...system.filter((name) => !found.has(name))];
}
