/** The canvas: React Flow over the store, drop from the palette, and the keyboard shortcuts
 * (Delete, Ctrl/Cmd+D, C, V, Z, Shift+Z), ignored while typing in a field. */

import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  getViewportForBounds,
  useNodesInitialized,
  useReactFlow,
  useStore,
  type NodeTypes,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, type DragEvent } from "react";
import { parseClip } from "../graph/ops";
import { edgeResultText } from "../graph/results";
import { editorStore, useEditor, type FlowNode } from "../store/editor";
import { BlockNode } from "./BlockNode";

export const PALETTE_MIME = "application/x-pagepulse-block";

// React Flow copies these props into its store whenever they change identity, and every edge
// re-renders when defaultEdgeOptions does: as literals in render, each drag frame (which
// re-renders the canvas) made all edges render again (benchmarks/editor.py).
const MULTI_SELECTION_KEYS = ["Meta", "Control"];
const FAR_ZOOM = 0.45;
/** The least zoom a flow opens at: below it, the editor opens on Start instead of the whole. */
const READABLE_ZOOM = 0.6;
const FIT_VIEW_OPTIONS = { maxZoom: 1, padding: 0.2 };
const DEFAULT_EDGE_OPTIONS = { type: "smoothstep" };

/** Whether a key press belongs to a field the person is typing in. */
export function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return (
    target.isContentEditable ||
    target instanceof HTMLInputElement ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement
  );
}

/** Clipboard and shortcuts while the editor is on the page. */
function useShortcuts(centre: () => { x: number; y: number }) {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (isTyping(event.target) || document.querySelector("dialog[open]")) return;
      const store = editorStore.getState();
      const mod = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      if ((event.key === "Delete" || event.key === "Backspace") && !mod) {
        event.preventDefault();
        store.removeSelected();
      } else if (mod && key === "z") {
        event.preventDefault();
        if (event.shiftKey) store.redo();
        else store.undo();
      } else if (mod && key === "y") {
        event.preventDefault();
        store.redo();
      } else if (mod && key === "d") {
        event.preventDefault();
        store.duplicateSelected();
      }
    };
    const onCopy = (event: ClipboardEvent) => {
      if (isTyping(event.target) || window.getSelection()?.toString()) return;
      const clip = editorStore.getState().copySelected();
      if (!clip || !event.clipboardData) return;
      event.preventDefault();
      event.clipboardData.setData("text/plain", JSON.stringify(clip));
    };
    const onPaste = (event: ClipboardEvent) => {
      if (isTyping(event.target)) return;
      const clip = parseClip(event.clipboardData?.getData("text/plain") ?? "");
      if (!clip) return;
      event.preventDefault();
      // Pasted blocks keep their layout, with the group's top-left at the viewport's centre.
      const left = Math.min(...clip.nodes.map((n) => n.position.x));
      const top = Math.min(...clip.nodes.map((n) => n.position.y));
      const at = centre();
      editorStore.getState().paste(clip, { x: at.x - left, y: at.y - top });
    };
    window.addEventListener("keydown", onKey);
    document.addEventListener("copy", onCopy);
    document.addEventListener("paste", onPaste);
    return () => {
      window.removeEventListener("keydown", onKey);
      document.removeEventListener("copy", onCopy);
      document.removeEventListener("paste", onPaste);
    };
  }, [centre]);
}

export function Canvas() {
  const blockList = useEditor((s) => s.blockList);
  const readOnly = useEditor((s) => s.readOnly);
  const versionView = useEditor((s) => s.versionView);
  const draftNodes = useEditor((s) => s.nodes);
  const draftEdges = useEditor((s) => s.edges);
  const edgeMarks = useEditor((s) => s.diff?.edges);
  const chatPath = useEditor((s) => s.chat.path);
  const edgeResults = useEditor((s) => s.results?.byEdge);
  const onNodesChange = useEditor((s) => s.onNodesChange);
  const onEdgesChange = useEditor((s) => s.onEdgesChange);
  const onConnect = useEditor((s) => s.onConnect);
  const flow = useReactFlow<FlowNode>();
  // Zoomed far out, blocks show their title only: a large flow stays light to pan and drag.
  const far = useStore((s) => s.transform[2] < FAR_ZOOM);

  const nodeTypes: NodeTypes = useMemo(
    () => Object.fromEntries(blockList.map((b) => [b.type, BlockNode])),
    [blockList],
  );
  const locked = readOnly || versionView !== null || edgeResults !== undefined;
  const nodes = versionView?.nodes ?? draftNodes;
  const baseEdges = versionView?.edges ?? draftEdges;
  const edges = useMemo(() => {
    if (edgeResults) {
      // The Results overlay: each edge says what share of its block's people went that way.
      return baseEdges.map((edge) => {
        const result = edgeResults[edge.id];
        if (!result) return edge;
        const text = edgeResultText(result);
        return {
          ...edge,
          label: text.label,
          ariaLabel: text.name,
          className: result.count ? "results-edge" : "results-edge is-empty",
          labelBgPadding: [6, 3] as [number, number],
          labelBgBorderRadius: 8,
        };
      });
    }
    if (!edgeMarks && chatPath.length < 2) return baseEdges;
    const walked = new Set<string>();
    for (let i = 1; i < chatPath.length; i++) walked.add(`${chatPath[i - 1]}>${chatPath[i]}`);
    return baseEdges.map((edge) => {
      const mark = edgeMarks?.[edge.id];
      const onPath = walked.has(`${edge.source}>${edge.target}`);
      if (!mark && !onPath) return edge;
      return {
        ...edge,
        className: [mark ? `diff-${mark}` : "", onPath ? "on-path" : ""].join(" ").trim(),
        animated: onPath,
      };
    });
  }, [baseEdges, edgeMarks, chatPath, edgeResults]);

  // Open on the whole flow when it fits readably, else at a readable zoom with Start at the top
  // (people read a flow from its start; "Fit view" still shows everything).
  const initialized = useNodesInitialized();
  const placed = useRef(false);
  useEffect(() => {
    if (!initialized || placed.current) return;
    const pane = document.querySelector(".canvas-pane")?.getBoundingClientRect();
    const nodes = flow.getNodes();
    if (!pane || !nodes.length) return;
    placed.current = true;
    const fit = getViewportForBounds(
      flow.getNodesBounds(nodes),
      pane.width,
      pane.height,
      0.1,
      1,
      0.2,
    );
    if (fit.zoom >= READABLE_ZOOM) {
      void flow.setViewport(fit);
      return;
    }
    const first =
      nodes.find((n) => n.type === "start") ??
      nodes.reduce((top, n) => (n.position.y < top.position.y ? n : top));
    const width = first.measured?.width ?? 230;
    void flow.setViewport({
      zoom: READABLE_ZOOM,
      x: pane.width / 2 - (first.position.x + width / 2) * READABLE_ZOOM,
      y: 40 - first.position.y * READABLE_ZOOM,
    });
  }, [initialized, flow]);

  const centre = useCallback(() => {
    const pane = document.querySelector(".canvas-pane")?.getBoundingClientRect();
    if (!pane) return { x: 0, y: 0 };
    return flow.screenToFlowPosition({
      x: pane.left + pane.width / 2,
      y: pane.top + pane.height / 2,
    });
  }, [flow]);
  useShortcuts(centre);

  const onDragOver = (event: DragEvent) => {
    if (locked || !event.dataTransfer.types.includes(PALETTE_MIME)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  };
  const onDrop = (event: DragEvent) => {
    const type = event.dataTransfer.getData(PALETTE_MIME);
    if (locked || !type) return;
    event.preventDefault();
    const at = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
    editorStore.getState().addBlock(type, { x: at.x - 110, y: at.y - 20 });
  };

  return (
    <section
      className={far ? "canvas-pane is-far" : "canvas-pane"}
      aria-label="Flow canvas"
      onDragOver={onDragOver}
      onDrop={onDrop}
    >
      <ReactFlow<FlowNode>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        nodesDraggable={!locked}
        nodesConnectable={!locked}
        elementsSelectable
        deleteKeyCode={null}
        selectionKeyCode="Shift"
        multiSelectionKeyCode={MULTI_SELECTION_KEYS}
        fitViewOptions={FIT_VIEW_OPTIONS}
        attributionPosition="top-right"
        minZoom={0.1}
        maxZoom={2}
        defaultEdgeOptions={DEFAULT_EDGE_OPTIONS}
      >
        <Background gap={24} />
        <MiniMap pannable zoomable ariaLabel="Minimap" />
        <Controls showInteractive={false} aria-label="Zoom" />
      </ReactFlow>
    </section>
  );
}
