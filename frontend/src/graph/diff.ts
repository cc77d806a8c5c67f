/** What changed between two flow documents, by node id: the marks the canvas draws when a
 * version is compared (the same rules as flows/diff.py: a node "changed" when its type or data
 * did; one that only moved is "moved"). */

import type { DocEdge, DocNode, Json } from "../types";

export type Mark = "added" | "removed" | "changed" | "moved";

export interface DiffResult {
  nodes: Record<string, Mark>;
  /** Nodes only the old document has, to draw as ghosts. */
  removedNodes: DocNode[];
  edges: Record<string, "added" | "removed" | "changed">;
  removedEdges: DocEdge[];
  counts: { added: number; removed: number; changed: number; moved: number };
}

function same(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => same(item, b[i]));
  }
  const left = a as Record<string, Json>;
  const right = b as Record<string, Json>;
  const keys = Object.keys(left);
  return (
    keys.length === Object.keys(right).length &&
    keys.every((key) => key in right && same(left[key], right[key]))
  );
}

function edgeKey(edge: DocEdge): string {
  return `${edge.source}\u0000${edge.sourceHandle ?? "next"}\u0000${edge.target}`;
}

/** Marks from `before` (e.g. a published version) to `after` (e.g. the draft). */
export function diffDocuments(
  before: { nodes: DocNode[]; edges: DocEdge[] },
  after: { nodes: DocNode[]; edges: DocEdge[] },
): DiffResult {
  const old = new Map(before.nodes.map((n) => [n.id, n]));
  const now = new Map(after.nodes.map((n) => [n.id, n]));
  const nodes: Record<string, Mark> = {};
  const counts = { added: 0, removed: 0, changed: 0, moved: 0 };
  for (const [id, node] of now) {
    const was = old.get(id);
    let mark: Mark | null = null;
    if (!was) mark = "added";
    else if (was.type !== node.type || !same(was.data, node.data)) mark = "changed";
    else if (was.position.x !== node.position.x || was.position.y !== node.position.y)
      mark = "moved";
    if (mark) {
      nodes[id] = mark;
      counts[mark] += 1;
    }
  }
  const removedNodes = before.nodes.filter((n) => !now.has(n.id));
  for (const node of removedNodes) {
    nodes[node.id] = "removed";
    counts.removed += 1;
  }
  const oldEdges = new Map(before.edges.map((e) => [e.id, e]));
  const newEdges = new Map(after.edges.map((e) => [e.id, e]));
  const edges: DiffResult["edges"] = {};
  for (const [id, edge] of newEdges) {
    const was = oldEdges.get(id);
    if (!was) edges[id] = "added";
    else if (edgeKey(was) !== edgeKey(edge)) edges[id] = "changed";
  }
  const removedEdges = before.edges.filter((e) => !newEdges.has(e.id));
  for (const edge of removedEdges) edges[edge.id] = "removed";
  return { nodes, removedNodes, edges, removedEdges, counts };
}
