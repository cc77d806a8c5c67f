/** The Results overlay's numbers: the funnel stats the API serves (GET …/flows/<id>/stats/,
 * flows/selectors.py), turned into what each block and each edge of the canvas shows.
 *
 * - A block: how many times people reached it, and the drop-off: those who reached it and
 *   neither went on along an edge, nor ended there, nor were handed off (they stopped
 *   answering, or started something else). A log-event block also shows its events by status
 *   and the last error Facebook gave.
 * - An edge: the share of the people who reached its source block that left by its handle. */

export interface NodeEventsStats {
  delivered: number;
  failed: number;
  not_sent: number;
  pending: number;
  last_error: string;
  last_error_at: string | null;
}

export interface NodeStats {
  node_id: string;
  entered: number;
  exited: number;
  ended: number;
  handed_off: number;
  exits: { handle: string; count: number }[];
  events: NodeEventsStats | null;
}

export interface FlowStats {
  flow: number;
  version: number | null;
  versions: number[];
  from: string;
  to: string;
  started: number;
  nodes: NodeStats[];
}

export interface NodeResult {
  reached: number;
  ended: number;
  handedOff: number;
  dropOff: number;
  /** dropOff / reached, 0 when nobody reached the block. */
  dropShare: number;
  events: NodeEventsStats | null;
}

export interface EdgeResult {
  count: number;
  /** count / the source block's reached, 0..1 (0 when nobody reached it). */
  share: number;
}

export interface Results {
  byNode: Record<string, NodeResult>;
  byEdge: Record<string, EdgeResult>;
  started: number;
}

export interface ResultEdge {
  id: string;
  source: string;
  sourceHandle?: string | null;
}

const EMPTY_NODE: NodeResult = {
  reached: 0,
  ended: 0,
  handedOff: 0,
  dropOff: 0,
  dropShare: 0,
  events: null,
};

/** The overlay for `nodeIds` and `edges` (the canvas shown) from the stats. A block the stats
 * do not name was reached by nobody; an edge with no handle leaves by "next" (the block's only
 * handle, as the interpreter reads it). */
export function computeResults(
  stats: FlowStats,
  nodeIds: readonly string[],
  edges: readonly ResultEdge[],
): Results {
  const stat = new Map(stats.nodes.map((n) => [n.node_id, n]));
  const byNode: Record<string, NodeResult> = {};
  for (const id of nodeIds) {
    const s = stat.get(id);
    if (!s) {
      byNode[id] = EMPTY_NODE;
      continue;
    }
    const dropOff = Math.max(0, s.entered - s.exited - s.ended - s.handed_off);
    byNode[id] = {
      reached: s.entered,
      ended: s.ended,
      handedOff: s.handed_off,
      dropOff,
      dropShare: s.entered > 0 ? dropOff / s.entered : 0,
      events: s.events,
    };
  }
  const byEdge: Record<string, EdgeResult> = {};
  for (const edge of edges) {
    const s = stat.get(edge.source);
    const handle = edge.sourceHandle ?? "next";
    const count = s?.exits.find((e) => e.handle === handle)?.count ?? 0;
    const reached = s?.entered ?? 0;
    byEdge[edge.id] = { count, share: reached > 0 ? Math.min(1, count / reached) : 0 };
  }
  return { byNode, byEdge, started: stats.started };
}

/** "67%", "<1%" for a share above 0 that rounds to 0, "0%". */
export function percent(share: number): string {
  if (share > 0 && share < 0.005) return "<1%";
  return `${Math.round(share * 100)}%`;
}

/** "1 person" / "12 people": the overlay counts arrivals at a block. */
export function people(n: number): string {
  return `${n.toLocaleString("en")} ${n === 1 ? "person" : "people"}`;
}

/** What a block's results say, in words (its accessible description and its text). */
export function nodeResultText(result: NodeResult): string {
  const parts = [`${people(result.reached)} reached`];
  if (result.dropOff > 0)
    parts.push(`${result.dropOff} dropped off (${percent(result.dropShare)})`);
  if (result.handedOff > 0) parts.push(`${result.handedOff} handed off`);
  return parts.join(", ");
}

/** An edge's label and its accessible name. */
export function edgeResultText(result: EdgeResult): { label: string; name: string } {
  return {
    label: `${percent(result.share)} · ${result.count}`,
    name: `${percent(result.share)} went this way (${people(result.count)})`,
  };
}

/** The query string of a stats request: dates as given, version "latest" left out. */
export function statsQuery(range: { from: string; to: string; version: string }): string {
  const query = new URLSearchParams();
  if (range.from) query.set("from", range.from);
  if (range.to) query.set("to", range.to);
  if (range.version && range.version !== "latest") query.set("version", range.version);
  const text = query.toString();
  return text ? `?${text}` : "";
}
