/** The editor's one store: the document (nodes, edges, flow settings), selection, the undo
 * history, problems, and what the canvas overlays (the test chat's path, a version's diff).
 * Components read it with selectors and never keep a second copy of the graph. */

import {
  applyEdgeChanges,
  applyNodeChanges,
  type Connection as FlowConnection,
  type Edge,
  type EdgeChange,
  type Node,
  type NodeChange,
} from "@xyflow/react";
import { createStore } from "zustand/vanilla";
import { useStore } from "zustand";
import { diffDocuments, type DiffResult } from "../graph/diff";
import { computeResults, type FlowStats, type Results } from "../graph/results";
import { emptyHistory, record, redo, undo, type History } from "../graph/history";
import {
  addNode,
  connect,
  copyNodes,
  moveNodes,
  pasteClip,
  removeElements,
  updateData,
  type Clip,
  type Doc,
} from "../graph/ops";
import { accessibleName, blockSummary } from "../graph/summary";
import { blockProblems, type CheckContext } from "../validation/client";
import type {
  BlockType,
  CatalogEvent,
  EventCatalog,
  DocEdge,
  DocNode,
  FlowDocument,
  JsonObject,
  Position,
  Problem,
  Trigger,
} from "../types";

export type FlowNode = Node<JsonObject>;
export type FlowEdge = Edge;

export interface Settings {
  name: string;
  description: string;
  page: number;
  trigger: Trigger;
}

export interface Snapshot {
  nodes: FlowNode[];
  edges: FlowEdge[];
  settings: Settings;
}

export interface VersionView {
  number: number;
  nodes: FlowNode[];
  edges: FlowEdge[];
  /** What the version is compared with ("the draft", "version 3"), or null: shown as it is. */
  against: string | null;
}

export interface ChatOverlay {
  current: string | null;
  path: string[];
}

/** The event catalog as the log-event form needs it: every event (to recognise any name) and
 * what the Page's transport carries (the list a person picks from). */
export interface CatalogState {
  all: CatalogEvent[];
  forTransport: EventCatalog;
  transport: string;
  currencies: [string, string][];
}

export interface EditorState {
  blocks: Record<string, BlockType>;
  blockList: BlockType[];
  readOnly: boolean;
  nodes: FlowNode[];
  edges: FlowEdge[];
  settings: Settings;
  history: History<Snapshot>;
  /** Bumps on every change of the document or settings: what autosave watches. */
  changeCount: number;
  dragging: boolean;
  serverProblems: Problem[];
  /** The editor's own checks of blocks edited since the server last validated. */
  clientProblems: Record<string, { at: number; problems: Problem[] }>;
  problemsByNode: Record<string, Problem[]>;
  checks: CheckContext;
  eventLabels: Record<string, string>;
  catalog: CatalogState | null;
  chat: ChatOverlay;
  versionView: VersionView | null;
  diff: DiffResult | null;
  /** The Results overlay (people per block, share per edge), or null when it is off. While
   * it is on the canvas is read-only. */
  results: Results | null;
  now: () => number;
}

export interface EditorActions {
  load(input: {
    blocks: BlockType[];
    document: FlowDocument;
    settings: Settings;
    readOnly: boolean;
  }): void;
  /** Lock or unlock editing (a viewer always reads only; the phone view reads only too). */
  setReadOnly(readOnly: boolean): void;
  setCatalog(catalog: CatalogState): void;
  onNodesChange(changes: NodeChange<FlowNode>[]): void;
  onEdgesChange(changes: EdgeChange[]): void;
  onConnect(connection: FlowConnection): void;
  /** Connect a handle to a block, or (target null) leave it open: wiring without a mouse. */
  setConnection(source: string, handle: string, target: string | null): void;
  addBlock(type: string, position: Position): string | null;
  removeSelected(): void;
  copySelected(): Clip | null;
  paste(clip: Clip, offset?: Position): void;
  duplicateSelected(): void;
  updateNodeData(nodeId: string, data: JsonObject, key?: string): void;
  updateSettings(change: Partial<Settings>, key?: string): void;
  applyPositions(positions: ReadonlyMap<string, Position>): void;
  replaceDocument(document: FlowDocument, settings: Settings | null, recordHistory: boolean): void;
  undo(): void;
  redo(): void;
  selectOnly(nodeId: string | null): void;
  setServerProblems(problems: Problem[], atChange: number): void;
  setChat(chat: ChatOverlay): void;
  /** Show the funnel stats on the canvas shown (the draft, or a version), or (null) stop. */
  setResults(stats: FlowStats | null): void;
  /** Show a version read-only: as it is, or (`compare`) what changed from it to the draft
   * (`true`) or to another version. */
  showVersion(
    view: { number: number; document: FlowDocument } | null,
    compare: boolean | { number: number; document: FlowDocument },
  ): void;
}

export type EditorStore = EditorState & EditorActions;

export function toDocument(nodes: readonly FlowNode[], edges: readonly FlowEdge[]): FlowDocument {
  return {
    nodes: nodes.map((n) => ({
      id: n.id,
      type: n.type ?? "",
      position: { x: n.position.x, y: n.position.y },
      data: n.data,
    })),
    edges: edges.map((e) => ({
      id: e.id,
      source: e.source,
      sourceHandle: e.sourceHandle ?? null,
      target: e.target,
    })),
  };
}

function docOf(state: EditorState): Doc {
  return toDocument(state.nodes, state.edges);
}

function snapshot(state: EditorState): Snapshot {
  return { nodes: state.nodes, edges: state.edges, settings: state.settings };
}

function decorate(
  node: DocNode,
  blocks: Record<string, BlockType>,
  eventLabels: Record<string, string>,
  previous?: FlowNode,
): FlowNode {
  const block = blocks[node.type];
  const label = accessibleName(
    block,
    node.type,
    blockSummary(block, node.data, (key) => eventLabels[key]),
  );
  const base: FlowNode = previous
    ? { ...previous, position: node.position, data: node.data, type: node.type }
    : { id: node.id, type: node.type, position: node.position, data: node.data };
  base.ariaLabel = label;
  base.deletable = node.type !== "start";
  return base;
}

/** Flow nodes for `doc`, keeping what the canvas knows of each (selection, measured size). */
function mergeNodes(state: EditorState, doc: Doc, select?: ReadonlySet<string>): FlowNode[] {
  const previous = new Map(state.nodes.map((n) => [n.id, n]));
  return doc.nodes.map((node) => {
    const before = previous.get(node.id);
    // `doc` comes from toDocument, whose positions are fresh objects: compare their values.
    const same =
      before &&
      before.data === node.data &&
      before.position.x === node.position.x &&
      before.position.y === node.position.y &&
      !select;
    const merged = same ? before : decorate(node, state.blocks, state.eventLabels, before);
    if (select) return { ...merged, selected: select.has(node.id) };
    return merged;
  });
}

function mergeEdges(state: EditorState, doc: Doc): FlowEdge[] {
  const previous = new Map(state.edges.map((e) => [e.id, e]));
  return doc.edges.map((edge: DocEdge) => {
    const before = previous.get(edge.id);
    if (
      before &&
      before.source === edge.source &&
      (before.sourceHandle ?? null) === edge.sourceHandle &&
      before.target === edge.target
    ) {
      return before;
    }
    return {
      id: edge.id,
      source: edge.source,
      sourceHandle: edge.sourceHandle,
      target: edge.target,
    };
  });
}

function groupProblems(
  server: readonly Problem[],
  client: EditorState["clientProblems"],
): Record<string, Problem[]> {
  const grouped: Record<string, Problem[]> = {};
  for (const problem of server) {
    if (!problem.node_id) continue;
    const own = client[problem.node_id];
    // A block edited since the server looked: its data problems are the editor's own now.
    if (own && problem.field.startsWith("data")) continue;
    (grouped[problem.node_id] ??= []).push(problem);
  }
  for (const [nodeId, own] of Object.entries(client)) {
    if (own.problems.length) (grouped[nodeId] ??= []).push(...own.problems);
  }
  return grouped;
}

const EMPTY_SETTINGS: Settings = {
  name: "",
  description: "",
  page: 0,
  trigger: { kind: "default", keywords: [], ref: "" },
};

export function createEditorStore(now: () => number = () => Date.now()) {
  return createStore<EditorStore>()((set, get) => {
    /** Apply a change that Undo can take back. */
    function change(next: Partial<EditorState>, key: string | null = null): void {
      const state = get();
      set({
        ...next,
        history: record(state.history, snapshot(state), state.now(), key),
        changeCount: state.changeCount + 1,
      });
    }

    function checkNode(state: EditorState, nodeId: string, data: JsonObject, at: number) {
      const node = state.nodes.find((n) => n.id === nodeId);
      const problems = blockProblems(state.blocks[node?.type ?? ""], nodeId, data, state.checks);
      const clientProblems = { ...state.clientProblems, [nodeId]: { at, problems } };
      return {
        clientProblems,
        problemsByNode: groupProblems(state.serverProblems, clientProblems),
      };
    }

    /** Undo or redo: back or forth one snapshot, the blocks whose data changed re-checked. */
    function travel(step: typeof undo) {
      const state = get();
      if (state.readOnly || state.versionView || state.results) return;
      const result = step(state.history, snapshot(state));
      if (!result) return;
      set({
        ...result.state,
        history: result.history,
        changeCount: state.changeCount + 1,
        ...recheck(state.nodes, result.state.nodes, state.changeCount + 1),
      });
    }

    /** After undo/redo or a reload: re-check every block whose data changed. */
    function recheck(before: readonly FlowNode[], after: readonly FlowNode[], at: number) {
      const state = get();
      const old = new Map(before.map((n) => [n.id, n.data]));
      const clientProblems = { ...state.clientProblems };
      for (const node of after) {
        if (old.get(node.id) === node.data) continue;
        clientProblems[node.id] = {
          at,
          problems: blockProblems(state.blocks[node.type ?? ""], node.id, node.data, state.checks),
        };
      }
      return {
        clientProblems,
        problemsByNode: groupProblems(state.serverProblems, clientProblems),
      };
    }

    return {
      blocks: {},
      blockList: [],
      readOnly: true,
      nodes: [],
      edges: [],
      settings: EMPTY_SETTINGS,
      history: emptyHistory<Snapshot>(),
      changeCount: 0,
      dragging: false,
      serverProblems: [],
      clientProblems: {},
      problemsByNode: {},
      checks: { events: [], currencies: new Set() },
      eventLabels: {},
      catalog: null,
      chat: { current: null, path: [] },
      versionView: null,
      results: null,
      diff: null,
      now,

      load({ blocks, document, settings, readOnly }) {
        const byType = Object.fromEntries(blocks.map((b) => [b.type, b]));
        const eventLabels = get().eventLabels;
        set({
          blocks: byType,
          blockList: blocks,
          readOnly,
          settings,
          nodes: document.nodes.map((n) => decorate(n, byType, eventLabels)),
          edges: document.edges.map((e) => ({ ...e })),
          history: emptyHistory<Snapshot>(),
          changeCount: 0,
          clientProblems: {},
          problemsByNode: groupProblems(get().serverProblems, {}),
        });
      },

      setReadOnly(readOnly) {
        if (get().readOnly !== readOnly) set({ readOnly });
      },

      setCatalog(catalog) {
        const state = get();
        const eventLabels = Object.fromEntries(catalog.all.map((e) => [e.key, e.label]));
        for (const event of catalog.all) {
          for (const name of Object.values(event.names)) if (name) eventLabels[name] = event.label;
        }
        const checks = {
          events: catalog.all,
          currencies: new Set(catalog.currencies.map(([code]) => code)),
          reserved: catalog.forTransport.reserved,
        };
        set({
          catalog,
          checks,
          eventLabels,
          nodes: state.nodes.map((n) =>
            decorate(toDocument([n], []).nodes[0] as DocNode, state.blocks, eventLabels, n),
          ),
        });
      },

      onNodesChange(changes) {
        const state = get();
        if (state.versionView) {
          const shown = changes.filter((c) => c.type === "dimensions" || c.type === "select");
          set({
            versionView: {
              ...state.versionView,
              nodes: applyNodeChanges(shown, state.versionView.nodes),
            },
          });
          return;
        }
        // Deleting goes through removeSelected (Start stays; one undo step); viewers only look.
        const allowed = changes.filter(
          (c) =>
            c.type !== "remove" &&
            c.type !== "add" &&
            c.type !== "replace" &&
            !(c.type === "position" && (state.readOnly || state.results)),
        );
        const moves = allowed.flatMap((c) => (c.type === "position" ? [c] : []));
        const starts = moves.some((c) => c.dragging) && !state.dragging;
        const ends = moves.some((c) => c.dragging === false);
        const nodes = applyNodeChanges(allowed, state.nodes);
        if (starts) {
          set({
            nodes,
            dragging: true,
            history: record(state.history, snapshot(state), state.now()),
          });
        } else if (ends && state.dragging) {
          set({ nodes, dragging: false, changeCount: state.changeCount + 1 });
        } else if (ends) {
          // A move with no drag before it (arrow keys): a step of its own, one for presses
          // in a row, like typing.
          const key = `move:${moves.map((c) => c.id).join(",")}`;
          set({
            nodes,
            history: record(state.history, snapshot(state), state.now(), key),
            changeCount: state.changeCount + 1,
          });
        } else {
          set({ nodes });
        }
      },

      onEdgesChange(changes) {
        const state = get();
        const allowed = changes.filter((c) => c.type === "select");
        if (!allowed.length) return;
        if (state.versionView) {
          set({
            versionView: {
              ...state.versionView,
              edges: applyEdgeChanges(allowed, state.versionView.edges),
            },
          });
          return;
        }
        set({ edges: applyEdgeChanges(allowed, state.edges) });
      },

      onConnect(connection) {
        const state = get();
        if (state.readOnly || state.versionView || state.results) return;
        const before = docOf(state);
        const doc = connect(before, {
          source: connection.source,
          sourceHandle: connection.sourceHandle ?? null,
          target: connection.target,
        });
        if (doc === before) return; // refused (into Start, or a block that is not there)
        change({ edges: mergeEdges(state, doc) });
      },

      setConnection(source, handle, target) {
        const state = get();
        if (state.readOnly || state.versionView || state.results) return;
        const doc = docOf(state);
        const next =
          target === null
            ? removeElements(
                doc,
                [],
                doc.edges
                  .filter((e) => e.source === source && (e.sourceHandle ?? "next") === handle)
                  .map((e) => e.id),
              )
            : connect(doc, { source, sourceHandle: handle, target });
        if (next.edges.length === doc.edges.length && target === null) return;
        change({ edges: mergeEdges(state, next) });
      },

      addBlock(type, position) {
        const state = get();
        const block = state.blocks[type];
        if (!block || state.readOnly || state.versionView || state.results) return null;
        const doc = addNode(docOf(state), block, position);
        const added = doc.nodes[doc.nodes.length - 1] as DocNode;
        const nodes = mergeNodes(state, doc, new Set([added.id]));
        change({
          nodes,
          edges: state.edges.map((e) => (e.selected ? { ...e, selected: false } : e)),
          ...checkNode({ ...state, nodes }, added.id, added.data, state.changeCount + 1),
        });
        return added.id;
      },

      removeSelected() {
        const state = get();
        if (state.readOnly || state.versionView || state.results) return;
        const nodeIds = state.nodes.filter((n) => n.selected).map((n) => n.id);
        const edgeIds = state.edges.filter((e) => e.selected).map((e) => e.id);
        if (!nodeIds.length && !edgeIds.length) return;
        const doc = removeElements(docOf(state), nodeIds, edgeIds);
        if (doc.nodes.length === state.nodes.length && doc.edges.length === state.edges.length) {
          return; // only Start was selected: it stays
        }
        const kept = new Set(doc.nodes.map((n) => n.id));
        const clientProblems = Object.fromEntries(
          Object.entries(state.clientProblems).filter(([id]) => kept.has(id)),
        );
        change({
          nodes: state.nodes.filter((n) => kept.has(n.id)),
          edges: mergeEdges(state, doc),
          clientProblems,
          problemsByNode: groupProblems(
            state.serverProblems.filter((p) => !p.node_id || kept.has(p.node_id)),
            clientProblems,
          ),
        });
      },

      copySelected() {
        const state = get();
        const source = state.versionView ?? state;
        return copyNodes(
          toDocument(source.nodes, source.edges),
          source.nodes.filter((n) => n.selected).map((n) => n.id),
        );
      },

      paste(clip, offset = { x: 40, y: 40 }) {
        const state = get();
        if (state.readOnly || state.versionView || state.results) return;
        const known = { ...clip, nodes: clip.nodes.filter((n) => n.type in state.blocks) };
        const { doc, pasted } = pasteClip(docOf(state), known, offset);
        if (!pasted.length) return;
        const nodes = mergeNodes(state, doc, new Set(pasted));
        const at = state.changeCount + 1;
        let checked = {
          clientProblems: state.clientProblems,
          problemsByNode: state.problemsByNode,
        };
        for (const id of pasted) {
          const node = nodes.find((n) => n.id === id) as FlowNode;
          checked = checkNode({ ...state, ...checked, nodes }, id, node.data, at);
        }
        change({
          nodes,
          edges: mergeEdges(state, doc).map((e) => ({ ...e, selected: false })),
          ...checked,
        });
      },

      duplicateSelected() {
        const clip = get().copySelected();
        if (clip) get().paste(clip);
      },

      updateNodeData(nodeId, data, key) {
        const state = get();
        if (state.readOnly || state.versionView || state.results) return;
        const node = state.nodes.find((n) => n.id === nodeId);
        if (!node) return;
        const doc = updateData(docOf(state), nodeId, data, state.blocks[node.type ?? ""]);
        const nodes = mergeNodes(state, doc);
        change(
          {
            nodes,
            edges: mergeEdges(state, doc),
            ...checkNode({ ...state, nodes }, nodeId, data, state.changeCount + 1),
          },
          key ? `data:${nodeId}:${key}` : null,
        );
      },

      updateSettings(next, key) {
        const state = get();
        if (state.readOnly || state.results) return;
        change({ settings: { ...state.settings, ...next } }, key ? `settings:${key}` : null);
      },

      applyPositions(positions) {
        const state = get();
        if (state.readOnly || state.versionView || state.results) return;
        const doc = moveNodes(docOf(state), positions);
        change({ nodes: mergeNodes(state, doc) });
      },

      replaceDocument(document, settings, recordHistory) {
        const state = get();
        const nodes = mergeNodes(state, document);
        const next = {
          nodes,
          edges: mergeEdges(state, document),
          settings: settings ?? state.settings,
          ...(() => {
            const checked = recheck(state.nodes, nodes, state.changeCount + 1);
            return checked;
          })(),
        };
        if (recordHistory) change(next);
        else set({ ...next, changeCount: state.changeCount + 1 });
      },

      undo() {
        travel(undo);
      },

      redo() {
        travel(redo);
      },

      selectOnly(nodeId) {
        const state = get();
        const pick = (nodes: FlowNode[]) =>
          nodes.map((n) =>
            Boolean(n.selected) === (n.id === nodeId) ? n : { ...n, selected: n.id === nodeId },
          );
        if (state.versionView) {
          set({ versionView: { ...state.versionView, nodes: pick(state.versionView.nodes) } });
          return;
        }
        set({
          nodes: pick(state.nodes),
          edges: state.edges.map((e) => (e.selected ? { ...e, selected: false } : e)),
        });
      },

      setServerProblems(problems, atChange) {
        const state = get();
        // The server saw every edit up to `atChange`; newer ones keep the editor's own checks.
        const clientProblems = Object.fromEntries(
          Object.entries(state.clientProblems).filter(([, own]) => own.at > atChange),
        );
        set({
          serverProblems: problems,
          clientProblems,
          problemsByNode: groupProblems(problems, clientProblems),
        });
      },

      setChat(chat) {
        set({ chat });
      },

      setResults(stats) {
        if (!stats) {
          set({ results: null });
          return;
        }
        const state = get();
        const nodes = state.versionView?.nodes ?? state.nodes;
        const edges = state.versionView?.edges ?? state.edges;
        set({
          results: computeResults(
            stats,
            nodes.map((n) => n.id),
            edges,
          ),
        });
      },

      showVersion(view, compare) {
        const state = get();
        if (!view) {
          set({ versionView: null, diff: null });
          return;
        }
        if (!compare) {
          set({
            versionView: {
              number: view.number,
              nodes: view.document.nodes.map((n) => decorate(n, state.blocks, state.eventLabels)),
              edges: view.document.edges.map((e) => ({ ...e })),
              against: null,
            },
            diff: null,
          });
          return;
        }
        // Compared: the later document as it is, with the blocks and wires the version had and
        // it lost drawn as ghosts, each marked.
        const later = compare === true ? docOf(state) : compare.document;
        const against = compare === true ? "the draft" : `version ${compare.number}`;
        const diff = diffDocuments(view.document, later);
        const nodes = [...later.nodes, ...diff.removedNodes].map((n) =>
          decorate(n, state.blocks, state.eventLabels),
        );
        const ids = new Set(nodes.map((n) => n.id));
        const edges = [...later.edges, ...diff.removedEdges]
          .filter((e) => ids.has(e.source) && ids.has(e.target))
          .map((e) => ({ ...e }));
        set({ versionView: { number: view.number, nodes, edges, against }, diff });
      },
    };
  });
}

export type EditorStoreApi = ReturnType<typeof createEditorStore>;

export const editorStore: EditorStoreApi = createEditorStore();

export function useEditor<T>(selector: (state: EditorStore) => T): T {
  return useStore(editorStore, selector);
}
