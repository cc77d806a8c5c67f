/** Pure edits of a flow document: what the canvas does, without React. Every function returns
 * new arrays and never mutates its arguments, so the store can keep them as undo snapshots. */

import type { BlockType, DocEdge, DocNode, HandleSpec, Json, JsonObject, Position } from "../types";

export const START = "start";

/** A short id, unique among `taken`: `<prefix>-<4 to 8 letters and digits>`. */
export function newId(prefix: string, taken: ReadonlySet<string>, random = Math.random): string {
  for (let length = 4; ; length++) {
    const suffix = Math.floor(random() * 36 ** length)
      .toString(36)
      .padStart(length, "0");
    const id = `${prefix}-${suffix}`;
    if (!taken.has(id)) return id;
  }
}

/** A fresh id for an item of a list (a quick reply, a button): letters and digits only. */
export function newItemId(taken: ReadonlySet<string>, random = Math.random): string {
  for (let length = 6; ; length++) {
    const id = Math.floor(random() * 36 ** length)
      .toString(36)
      .padStart(length, "0");
    if (!taken.has(id)) return id;
  }
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The output handles of a block with this data: one per quick reply and button (with an id),
 * then its own. `connected` (the handle ids wired now) says whether the block branches, which
 * renames its own handles ("Next" becomes "Any other answer"). */
export function handlesFor(
  block: BlockType | undefined,
  data: JsonObject,
  connected: ReadonlySet<string> = new Set(),
): HandleSpec[] {
  if (!block) return [];
  const dynamic: HandleSpec[] = [];
  const seen = new Set<string>();
  for (const spec of block.dynamic_handles ?? []) {
    const items = data[spec.items];
    if (!Array.isArray(items)) continue;
    for (const item of items) {
      if (
        !isObject(item) ||
        typeof item.id !== "string" ||
        !/^[A-Za-z0-9_-]{1,40}$/.test(item.id)
      ) {
        continue;
      }
      const when = spec.when ?? {};
      if (Object.entries(when).some(([key, value]) => item[key] !== value)) continue;
      const id = spec.prefix + item.id;
      if (seen.has(id)) continue; // a duplicate id is the block's problem; the first counts
      seen.add(id);
      const label = item[spec.label];
      dynamic.push({
        id,
        label: typeof label === "string" && label ? label : "(no title)",
        required: false,
      });
    }
  }
  const branching = dynamic.some((handle) => connected.has(handle.id));
  const own = block.handles.map((handle) =>
    branching && handle.label_when_branching
      ? { ...handle, label: handle.label_when_branching }
      : handle,
  );
  return [...dynamic, ...own];
}

const wiredCache = new WeakMap<
  readonly { source: string; sourceHandle?: string | null }[],
  Map<string, string>
>();

/** For each block, its wired output handles as one sorted, space-separated string; computed once
 * per edges array (the store keeps an array until the edges change), so a block looks its own up
 * in O(1) on every render. */
export function wiredHandles(
  edges: readonly { source: string; sourceHandle?: string | null }[],
): ReadonlyMap<string, string> {
  let index = wiredCache.get(edges);
  if (!index) {
    const lists = new Map<string, string[]>();
    for (const edge of edges) {
      const list = lists.get(edge.source) ?? [];
      list.push(edge.sourceHandle ?? "next");
      lists.set(edge.source, list);
    }
    index = new Map([...lists].map(([node, handles]) => [node, handles.sort().join(" ")]));
    wiredCache.set(edges, index);
  }
  return index;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** The data a new block starts with: the registry's defaults (deep-copied). */
export function defaultData(block: BlockType): JsonObject {
  return clone(block.defaults);
}

export interface Doc {
  nodes: DocNode[];
  edges: DocEdge[];
}

export function addNode(doc: Doc, block: BlockType, position: Position, id?: string): Doc {
  const taken = new Set(doc.nodes.map((n) => n.id));
  const node: DocNode = {
    id: id ?? newId(block.type.replace(/_/g, "-"), taken),
    type: block.type,
    position: { x: Math.round(position.x), y: Math.round(position.y) },
    data: defaultData(block),
  };
  return { nodes: [...doc.nodes, node], edges: doc.edges };
}

export interface Connection {
  source: string;
  sourceHandle: string | null;
  target: string;
}

/** Whether a wire from `source` to `target` may be drawn at all (the server judges the rest). */
export function canConnect(doc: Doc, connection: Connection): boolean {
  const target = doc.nodes.find((n) => n.id === connection.target);
  const source = doc.nodes.find((n) => n.id === connection.source);
  return Boolean(source && target && target.type !== START);
}

/** Connect `source`'s handle to `target`: one edge per output handle, so an edge already
 * leaving that handle is replaced. */
export function connect(doc: Doc, connection: Connection): Doc {
  if (!canConnect(doc, connection)) return doc;
  const handle = connection.sourceHandle ?? "next";
  const kept = doc.edges.filter(
    (e) => !(e.source === connection.source && (e.sourceHandle ?? "next") === handle),
  );
  const taken = new Set(doc.edges.map((e) => e.id));
  const edge: DocEdge = {
    id: newId(`e-${connection.source}-${handle}`, taken),
    source: connection.source,
    sourceHandle: handle,
    target: connection.target,
  };
  return { nodes: doc.nodes, edges: [...kept, edge] };
}

/** Remove nodes (never Start) and edges; edges touching a removed node go with it. */
export function removeElements(
  doc: Doc,
  nodeIds: Iterable<string>,
  edgeIds: Iterable<string> = [],
): Doc {
  const gone = new Set(
    [...nodeIds].filter((id) => doc.nodes.find((n) => n.id === id)?.type !== START),
  );
  const goneEdges = new Set(edgeIds);
  return {
    nodes: doc.nodes.filter((n) => !gone.has(n.id)),
    edges: doc.edges.filter(
      (e) => !goneEdges.has(e.id) && !gone.has(e.source) && !gone.has(e.target),
    ),
  };
}

/** Replace a node's data; edges leaving handles the new data no longer has are removed. */
export function updateData(
  doc: Doc,
  nodeId: string,
  data: JsonObject,
  block: BlockType | undefined,
): Doc {
  const nodes = doc.nodes.map((n) => (n.id === nodeId ? { ...n, data } : n));
  if (!block) return { nodes, edges: doc.edges };
  const handles = new Set(handlesFor(block, data).map((h) => h.id));
  const edges = doc.edges.filter(
    (e) => e.source !== nodeId || handles.has(e.sourceHandle ?? "next") || handles.size === 0,
  );
  return { nodes, edges: edges.length === doc.edges.length ? doc.edges : edges };
}

/** What Copy puts on the clipboard: the chosen blocks (Start excluded) and the edges between
 * them, as JSON another flow's editor can paste. */
export interface Clip {
  pagepulse: "blocks";
  version: 1;
  nodes: DocNode[];
  edges: DocEdge[];
}

export function copyNodes(doc: Doc, nodeIds: Iterable<string>): Clip | null {
  const chosen = new Set(nodeIds);
  const nodes = doc.nodes.filter((n) => chosen.has(n.id) && n.type !== START);
  if (!nodes.length) return null;
  const ids = new Set(nodes.map((n) => n.id));
  return {
    pagepulse: "blocks",
    version: 1,
    nodes: clone(nodes),
    edges: clone(doc.edges.filter((e) => ids.has(e.source) && ids.has(e.target))),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The clip in `text`, or null when it is not one (anything else on the clipboard). */
export function parseClip(text: string): Clip | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const clip = value as Partial<Clip>;
  if (clip.pagepulse !== "blocks" || !Array.isArray(clip.nodes) || !Array.isArray(clip.edges)) {
    return null;
  }
  const nodes = (clip.nodes as unknown[]).filter(
    (n): n is DocNode =>
      isRecord(n) &&
      typeof n.id === "string" &&
      typeof n.type === "string" &&
      n.type !== START &&
      isRecord(n.position) &&
      Number.isFinite(n.position.x) &&
      Number.isFinite(n.position.y) &&
      isRecord(n.data),
  );
  const ids = new Set(nodes.map((n) => n.id));
  const edges = (clip.edges as unknown[]).filter(
    (e): e is DocEdge =>
      isRecord(e) &&
      typeof e.id === "string" &&
      typeof e.source === "string" &&
      typeof e.target === "string" &&
      ids.has(e.source) &&
      ids.has(e.target) &&
      (e.sourceHandle === undefined ||
        e.sourceHandle === null ||
        typeof e.sourceHandle === "string"),
  );
  return nodes.length ? { pagepulse: "blocks", version: 1, nodes, edges } : null;
}

/** Paste a clip: every node and edge gets a new id (edges follow their nodes), shifted by
 * `offset`. Returns the new document and the ids of the pasted nodes. */
export function pasteClip(doc: Doc, clip: Clip, offset: Position): { doc: Doc; pasted: string[] } {
  const taken = new Set(doc.nodes.map((n) => n.id));
  const remap = new Map<string, string>();
  const nodes = clip.nodes.map((node) => {
    const id = newId(node.type.replace(/_/g, "-"), taken);
    taken.add(id);
    remap.set(node.id, id);
    return {
      ...clone(node),
      id,
      position: { x: node.position.x + offset.x, y: node.position.y + offset.y },
    };
  });
  const takenEdges = new Set(doc.edges.map((e) => e.id));
  const edges: DocEdge[] = [];
  for (const edge of clip.edges) {
    const source = remap.get(edge.source);
    const target = remap.get(edge.target);
    if (!source || !target) continue;
    const id = newId(`e-${source}`, takenEdges);
    takenEdges.add(id);
    edges.push({ id, source, sourceHandle: edge.sourceHandle ?? null, target });
  }
  return {
    doc: { nodes: [...doc.nodes, ...nodes], edges: [...doc.edges, ...edges] },
    pasted: nodes.map((n) => n.id),
  };
}

/** Move nodes to new positions (Tidy up), keeping everything else. */
export function moveNodes(doc: Doc, positions: ReadonlyMap<string, Position>): Doc {
  return {
    nodes: doc.nodes.map((n) => {
      const at = positions.get(n.id);
      return at ? { ...n, position: { x: Math.round(at.x), y: Math.round(at.y) } } : n;
    }),
    edges: doc.edges,
  };
}
