import { describe, expect, it } from "vitest";
import type { DocEdge, DocNode, JsonObject } from "../types";
import { diffDocuments } from "./diff";

function node(id: string, type: string, data: JsonObject = {}, x = 0, y = 0): DocNode {
  return { id, type, position: { x, y }, data };
}

function edge(id: string, source: string, sourceHandle: string | null, target: string): DocEdge {
  return { id, source, sourceHandle, target };
}

const before = {
  nodes: [
    node("start", "start"),
    node("same", "send_message", { text: "Hi", quick_replies: [{ title: "A" }] }, 0, 100),
    node("moved", "ask", { question: "Q", variable: "v" }, 0, 200),
    node("edited", "send_message", { text: "Old" }, 0, 300),
    node("retyped", "end", {}, 0, 400),
    node("gone", "handoff", { note: "bye" }, 0, 500),
  ],
  edges: [
    edge("e1", "start", "next", "same"),
    edge("e2", "same", "next", "moved"),
    edge("e3", "moved", "next", "edited"),
    edge("e4", "edited", "next", "gone"),
  ],
};

const after = {
  nodes: [
    node("start", "start"),
    // the same data with its keys in another order
    node("same", "send_message", { quick_replies: [{ title: "A" }], text: "Hi" }, 0, 100),
    node("moved", "ask", { question: "Q", variable: "v" }, 50, 200),
    node("edited", "send_message", { text: "New" }, 80, 300),
    node("retyped", "handoff", {}, 0, 400),
    node("new", "end"),
  ],
  edges: [
    edge("e1", "start", "next", "same"),
    edge("e2", "same", "next", "edited"),
    edge("e3", "moved", "next", "edited"),
    edge("e5", "edited", "next", "new"),
  ],
};

describe("diffDocuments, as flows/diff.py", () => {
  const diff = diffDocuments(before, after);

  it("marks each block added, removed, changed (type or data) or moved (position only)", () => {
    expect(diff.nodes).toEqual({
      moved: "moved",
      edited: "changed",
      retyped: "changed",
      new: "added",
      gone: "removed",
    });
    expect(diff.counts).toEqual({ added: 1, removed: 1, changed: 2, moved: 1 });
  });

  it("keeps the removed blocks and edges to draw as ghosts", () => {
    expect(diff.removedNodes).toEqual([before.nodes[5]]);
    expect(diff.removedEdges).toEqual([before.edges[3]]);
  });

  it("marks edges by id: changed when their source, handle or target differ", () => {
    expect(diff.edges).toEqual({ e2: "changed", e5: "added", e4: "removed" });
  });

  it("marks a handle change as a changed edge", () => {
    const d = diffDocuments(
      { nodes: [], edges: [edge("t", "if", "true", "a")] },
      { nodes: [], edges: [edge("t", "if", "false", "a")] },
    );
    expect(d.edges).toEqual({ t: "changed" });
  });

  it("tells apart data that differs only in nesting, array order or number vs string", () => {
    const d = diffDocuments(
      {
        nodes: [
          node("a", "x", { list: [1, 2] }),
          node("b", "x", { v: 1 }),
          node("c", "x", { o: { k: null } }),
          node("d", "x", { o: { k: 1 } }),
        ],
        edges: [],
      },
      {
        nodes: [
          node("a", "x", { list: [2, 1] }),
          node("b", "x", { v: "1" }),
          node("c", "x", { o: {} }),
          node("d", "x", { o: { k: 1, extra: 2 } }),
        ],
        edges: [],
      },
    );
    expect(d.nodes).toEqual({ a: "changed", b: "changed", c: "changed", d: "changed" });
  });

  it("finds nothing between a document and a copy of it", () => {
    const d = diffDocuments(before, structuredClone(before));
    expect(d.nodes).toEqual({});
    expect(d.edges).toEqual({});
    expect(d.counts).toEqual({ added: 0, removed: 0, changed: 0, moved: 0 });
  });
});
