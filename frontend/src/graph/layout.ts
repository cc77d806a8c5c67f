/** "Tidy up": a layered top-to-bottom layout by elkjs, keeping every edge as it is. */

import type { ELK as ElkApi } from "elkjs/lib/elk-api";
import type { DocEdge, DocNode, Position } from "../types";

let elk: Promise<ElkApi> | null = null;

/** elkjs is large (1.4 MB): it loads the first time someone tidies up, not with the editor. */
function layoutEngine(): Promise<ElkApi> {
  elk ??= import("elkjs/lib/elk.bundled.js").then(({ default: ELK }) => new ELK());
  return elk;
}

export interface Size {
  width: number;
  height: number;
}

export async function tidyPositions(
  nodes: readonly DocNode[],
  edges: readonly DocEdge[],
  sizes: ReadonlyMap<string, Size>,
): Promise<Map<string, Position>> {
  const ids = new Set(nodes.map((n) => n.id));
  const engine = await layoutEngine();
  const graph = await engine.layout({
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "DOWN",
      "elk.layered.spacing.nodeNodeBetweenLayers": "70",
      "elk.spacing.nodeNode": "50",
      "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
      "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
    },
    children: nodes.map((n) => ({
      id: n.id,
      width: sizes.get(n.id)?.width ?? 240,
      height: sizes.get(n.id)?.height ?? 90,
    })),
    edges: edges
      .filter((e) => ids.has(e.source) && ids.has(e.target))
      .map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] })),
  });
  const positions = new Map<string, Position>();
  for (const child of graph.children ?? []) {
    positions.set(child.id, { x: child.x ?? 0, y: child.y ?? 0 });
  }
  return positions;
}
