import { describe, expect, it } from "vitest";
import { BLOCKS_BY_TYPE, block } from "../test/fixtures";
import type { BlockType, DocEdge, DocNode, JsonObject } from "../types";
import {
  addNode,
  canConnect,
  connect,
  copyNodes,
  handlesFor,
  moveNodes,
  newId,
  newItemId,
  parseClip,
  pasteClip,
  removeElements,
  updateData,
  type Doc,
} from "./ops";

function node(id: string, type: string, data: DocNode["data"] = {}, x = 0, y = 0): DocNode {
  return { id, type, position: { x, y }, data };
}

function edge(id: string, source: string, sourceHandle: string | null, target: string): DocEdge {
  return { id, source, sourceHandle, target };
}

/** Start -> a -> b, and c on its own. */
function sample(): Doc {
  return {
    nodes: [
      node("start", "start", {}, 0, 0),
      node("a", "send_message", { text: "Hi", quick_replies: [], buttons: [] }, 0, 100),
      node("b", "ask", { question: "Email?", variable: "email" }, 0, 200),
      node("c", "end", {}, 300, 300),
    ],
    edges: [edge("e1", "start", "next", "a"), edge("e2", "a", "next", "b")],
  };
}

/** A registry entry whose replies and postback buttons each get a handle. */
const CHOICES: BlockType = {
  ...block("send_message"),
  type: "choices",
  handles: [
    { id: "next", label: "Next", required: true, label_when_branching: "Typed anything else" },
  ],
  dynamic_handles: [
    { items: "quick_replies", prefix: "qr-", label: "title" },
    { items: "buttons", prefix: "btn-", label: "title", when: { type: "postback" } },
  ],
};

function frozen<T>(value: T): T {
  return structuredClone(value);
}

describe("ids", () => {
  it("makes an id its prefix and a suffix not already taken", () => {
    const values = [0.5, 0.5, 0.25];
    const random = () => values.shift() ?? 0;
    const first = newId("ask", new Set(), () => 0.5);
    expect(first).toBe("ask-i000");
    expect(newId("ask", new Set([first]), random)).toBe("ask-i0000");
  });

  it("makes item ids of letters and digits, unique among those taken", () => {
    const id = newItemId(new Set(), () => 0.5);
    expect(id).toMatch(/^[0-9a-z]{6}$/);
    expect(newItemId(new Set([id]), () => 0.5)).not.toBe(id);
  });
});

describe("addNode", () => {
  it("adds a block with a deep copy of the registry's defaults at a rounded position", () => {
    const before = sample();
    const send = block("send_message");
    const doc = addNode(before, send, { x: 10.4, y: 20.6 });
    expect(doc.nodes).toHaveLength(5);
    const added = doc.nodes[4] as DocNode;
    expect(added.type).toBe("send_message");
    expect(added.id).toMatch(/^send-message-[0-9a-z]{4,}$/);
    expect(added.position).toEqual({ x: 10, y: 21 });
    expect(added.data).toEqual({ text: "", quick_replies: [], buttons: [] });
    (added.data.quick_replies as unknown[]).push({ title: "changed" });
    expect(send.defaults.quick_replies).toEqual([]);
    expect(before.nodes).toHaveLength(4);
    expect(doc.edges).toBe(before.edges);
  });

  it("gives every added block its own id", () => {
    let doc: Doc = { nodes: [], edges: [] };
    for (let i = 0; i < 200; i++) doc = addNode(doc, block("ask"), { x: 0, y: 0 });
    expect(new Set(doc.nodes.map((n) => n.id)).size).toBe(200);
  });

  it("takes the id it is given", () => {
    expect(addNode(sample(), block("end"), { x: 0, y: 0 }, "end-9").nodes[4]?.id).toBe("end-9");
  });
});

describe("connect", () => {
  it("adds an edge from a free handle", () => {
    const doc = connect(sample(), { source: "b", sourceHandle: "next", target: "c" });
    expect(doc.edges.slice(0, 2)).toEqual(sample().edges);
    expect(doc.edges[2]).toEqual({
      id: expect.stringMatching(/^e-b-next-/) as unknown,
      source: "b",
      sourceHandle: "next",
      target: "c",
    });
  });

  it("replaces the edge already leaving a used handle", () => {
    const doc = connect(sample(), { source: "a", sourceHandle: "next", target: "c" });
    expect(doc.edges.map((e) => [e.source, e.sourceHandle, e.target])).toEqual([
      ["start", "next", "a"],
      ["a", "next", "c"],
    ]);
    expect(doc.edges.map((e) => e.id)).not.toContain("e2");
  });

  it("treats a missing handle as next, on both the old and the new edge", () => {
    const start: Doc = { ...sample(), edges: [edge("old", "a", null, "b")] };
    const doc = connect(start, { source: "a", sourceHandle: null, target: "c" });
    expect(doc.edges.map((e) => [e.sourceHandle, e.target])).toEqual([["next", "c"]]);
  });

  it("keeps edges from the same block's other handles", () => {
    const cond: Doc = {
      nodes: [...sample().nodes, node("if", "condition")],
      edges: [edge("t", "if", "true", "a"), edge("f", "if", "false", "b")],
    };
    const doc = connect(cond, { source: "if", sourceHandle: "true", target: "c" });
    expect(doc.edges.map((e) => [e.sourceHandle, e.target])).toEqual([
      ["false", "b"],
      ["true", "c"],
    ]);
  });

  it("draws nothing into Start, nor from or to a block that is not there", () => {
    const before = sample();
    expect(connect(before, { source: "b", sourceHandle: "next", target: "start" })).toBe(before);
    expect(connect(before, { source: "zz", sourceHandle: "next", target: "c" })).toBe(before);
    expect(connect(before, { source: "b", sourceHandle: "next", target: "zz" })).toBe(before);
    expect(canConnect(before, { source: "b", sourceHandle: "next", target: "start" })).toBe(false);
  });

  it("allows a block to loop to itself", () => {
    const doc = connect(sample(), { source: "b", sourceHandle: "next", target: "b" });
    expect(doc.edges[2]).toMatchObject({ source: "b", target: "b" });
  });

  it("does not change the document it is given", () => {
    const before = sample();
    const copy = frozen(before);
    connect(before, { source: "a", sourceHandle: "next", target: "c" });
    expect(before).toEqual(copy);
  });
});

describe("removeElements", () => {
  it("removes blocks and the edges touching them", () => {
    const doc = removeElements(sample(), ["a"]);
    expect(doc.nodes.map((n) => n.id)).toEqual(["start", "b", "c"]);
    expect(doc.edges).toEqual([]);
  });

  it("never removes Start", () => {
    const doc = removeElements(sample(), ["start", "c"]);
    expect(doc.nodes.map((n) => n.id)).toEqual(["start", "a", "b"]);
    expect(doc.edges.map((e) => e.id)).toEqual(["e1", "e2"]);
  });

  it("removes chosen edges and keeps their blocks", () => {
    const doc = removeElements(sample(), [], ["e2"]);
    expect(doc.nodes).toHaveLength(4);
    expect(doc.edges.map((e) => e.id)).toEqual(["e1"]);
  });
});

describe("handlesFor", () => {
  it("gives a registry block its own handles", () => {
    expect(handlesFor(block("condition"), {})).toEqual([
      { id: "true", label: "True", required: true, label_when_branching: null },
      { id: "false", label: "False", required: true, label_when_branching: null },
    ]);
    expect(handlesFor(block("end"), {})).toEqual([]);
    expect(handlesFor(undefined, {})).toEqual([]);
  });

  it("grows a handle per reply and per postback button with an id", () => {
    const data: JsonObject = {
      quick_replies: [
        { id: "r1", title: "Yes" },
        { id: "r2", title: "" },
        { title: "No id" },
        { id: "", title: "Empty id" },
        "not an object",
      ],
      buttons: [
        { id: "b1", type: "postback", title: "Buy" },
        { id: "b2", type: "web_url", title: "Site" },
      ],
    };
    const items = [
      { id: "qr-r1", label: "Yes", required: false },
      { id: "qr-r2", label: "(no title)", required: false },
      { id: "btn-b1", label: "Buy", required: false },
    ];
    // Until an item's handle is wired, Next is Next; once one is, it is the other answers.
    expect(handlesFor(CHOICES, data)).toEqual([
      ...items,
      { id: "next", label: "Next", required: true, label_when_branching: "Typed anything else" },
    ]);
    expect(handlesFor(CHOICES, data, new Set(["btn-b1"]))).toEqual([
      ...items,
      {
        id: "next",
        label: "Typed anything else",
        required: true,
        label_when_branching: "Typed anything else",
      },
    ]);
  });

  it("takes the first of two items with one id, and ignores ids a handle cannot have", () => {
    const data: JsonObject = {
      quick_replies: [
        { id: "r1", title: "First" },
        { id: "r1", title: "Second" },
        { id: "bad id!", title: "Spaces" },
      ],
    };
    expect(handlesFor(CHOICES, data).map((h) => h.label)).toEqual(["First", "Next"]);
  });

  it("keeps next's own label and requirement when nothing grows", () => {
    expect(handlesFor(CHOICES, { quick_replies: [], buttons: "nonsense" })).toEqual([
      { id: "next", label: "Next", required: true, label_when_branching: "Typed anything else" },
    ]);
  });
});

describe("updateData", () => {
  const withReplies: Doc = {
    nodes: [
      node("start", "start"),
      node("m", "choices", {
        quick_replies: [
          { id: "r1", title: "A" },
          { id: "r2", title: "B" },
        ],
      }),
      node("x", "end"),
      node("y", "end"),
    ],
    edges: [
      edge("e0", "start", "next", "m"),
      edge("e1", "m", "qr-r1", "x"),
      edge("e2", "m", "qr-r2", "y"),
      edge("e3", "m", "next", "y"),
    ],
  };

  it("replaces the block's data and removes edges from handles that are gone", () => {
    const data = { quick_replies: [{ id: "r2", title: "B" }] };
    const doc = updateData(withReplies, "m", data, CHOICES);
    expect(doc.nodes[1]?.data).toBe(data);
    expect(doc.edges.map((e) => e.id)).toEqual(["e0", "e2", "e3"]);
    expect(withReplies.edges).toHaveLength(4);
  });

  it("keeps the same edges array when every handle is still there", () => {
    const data = {
      quick_replies: [
        { id: "r1", title: "A!" },
        { id: "r2", title: "B" },
      ],
    };
    const doc = updateData(withReplies, "m", data, CHOICES);
    expect(doc.edges).toBe(withReplies.edges);
    expect(doc.nodes[0]).toBe(withReplies.nodes[0]);
  });

  it("keeps every edge of a block type it does not know", () => {
    const doc = updateData(withReplies, "m", {}, undefined);
    expect(doc.edges).toBe(withReplies.edges);
  });

  it("keeps the edges of a block that has no handles at all", () => {
    const doc = updateData(sample(), "c", { label: "Bye" }, BLOCKS_BY_TYPE.end);
    expect(doc.edges).toEqual(sample().edges);
    expect(doc.nodes[3]?.data).toEqual({ label: "Bye" });
  });
});

describe("copy and paste", () => {
  it("copies the chosen blocks, never Start, and only the edges between them", () => {
    const clip = copyNodes(sample(), ["start", "a", "b"]);
    expect(clip).toEqual({
      pagepulse: "blocks",
      version: 1,
      nodes: [sample().nodes[1], sample().nodes[2]],
      edges: [edge("e2", "a", "next", "b")],
    });
    expect(copyNodes(sample(), ["start"])).toBeNull();
    expect(copyNodes(sample(), [])).toBeNull();
  });

  it("copies, so later edits of the document do not reach the clip", () => {
    const doc = sample();
    const clip = copyNodes(doc, ["a"]);
    (doc.nodes[1] as DocNode).data.text = "changed";
    expect(clip?.nodes[0]?.data.text).toBe("Hi");
  });

  it("reads back what it wrote", () => {
    const clip = copyNodes(sample(), ["a", "b"]);
    expect(parseClip(JSON.stringify(clip))).toEqual(clip);
  });

  it.each([
    ["not JSON", "hello there"],
    ["JSON of something else", '{"nodes": [], "edges": []}'],
    ["a number", "42"],
    ["null", "null"],
    ["no nodes", '{"pagepulse": "blocks", "version": 1, "nodes": [], "edges": []}'],
    [
      "only Start",
      '{"pagepulse":"blocks","version":1,"nodes":[{"id":"s","type":"start","position":{"x":0,"y":0},"data":{}}],"edges":[]}',
    ],
    [
      "nodes without positions",
      '{"pagepulse":"blocks","version":1,"nodes":[{"id":"s","type":"end","data":{}}],"edges":[]}',
    ],
  ])("gives null for a clipboard holding %s", (_what, text) => {
    expect(parseClip(text)).toBeNull();
  });

  it("drops bad nodes and edges that do not join two pasted blocks", () => {
    const text = JSON.stringify({
      pagepulse: "blocks",
      version: 1,
      nodes: [
        node("a", "end"),
        node("s", "start"),
        { id: "b", type: "end", position: { x: "1", y: 0 }, data: {} },
        { id: "c", type: "end", position: { x: 0, y: 0 }, data: [] },
        { id: "d", type: "end", position: { x: 0, y: 0 }, data: null },
        { id: "f", type: "end", position: null, data: {} },
        null,
        7,
      ],
      edges: [
        edge("e1", "a", "next", "a"),
        edge("e2", "a", "next", "s"),
        { id: "e3", source: "a", sourceHandle: 5, target: "a" },
        null,
      ],
    });
    expect(parseClip(text)).toEqual({
      pagepulse: "blocks",
      version: 1,
      nodes: [node("a", "end")],
      edges: [edge("e1", "a", "next", "a")],
    });
  });

  it("pastes with new ids for blocks and edges, edges following their blocks, shifted", () => {
    const doc = sample();
    const clip = copyNodes(doc, ["a", "b"]);
    if (!clip) throw new Error("nothing copied");
    const { doc: after, pasted } = pasteClip(doc, clip, { x: 40, y: 40 });
    expect(pasted).toHaveLength(2);
    expect(after.nodes.slice(0, 4)).toEqual(doc.nodes);
    const [a2, b2] = after.nodes.slice(4) as [DocNode, DocNode];
    expect(pasted).toEqual([a2.id, b2.id]);
    expect(new Set(after.nodes.map((n) => n.id)).size).toBe(6);
    expect(a2).toEqual({ ...doc.nodes[1], id: a2.id, position: { x: 40, y: 140 } });
    expect(b2).toEqual({ ...doc.nodes[2], id: b2.id, position: { x: 40, y: 240 } });
    expect(a2.id).toMatch(/^send-message-/);
    expect(after.edges).toHaveLength(3);
    const pastedEdge = after.edges[2] as DocEdge;
    expect(pastedEdge).toEqual({
      id: expect.stringMatching(new RegExp(`^e-${a2.id}-`)) as unknown,
      source: a2.id,
      sourceHandle: "next",
      target: b2.id,
    });
    expect(["e1", "e2"]).not.toContain(pastedEdge.id);
  });

  it("pastes the same clip twice with different ids each time", () => {
    const clip = copyNodes(sample(), ["a", "b"]);
    if (!clip) throw new Error("nothing copied");
    const once = pasteClip(sample(), clip, { x: 0, y: 0 }).doc;
    const twice = pasteClip(once, clip, { x: 0, y: 0 }).doc;
    expect(new Set(twice.nodes.map((n) => n.id)).size).toBe(8);
    expect(new Set(twice.edges.map((e) => e.id)).size).toBe(4);
  });

  it("pasted data is a copy of the clip's", () => {
    const clip = copyNodes(sample(), ["a"]);
    if (!clip) throw new Error("nothing copied");
    const { doc } = pasteClip(sample(), clip, { x: 0, y: 0 });
    (doc.nodes[4] as DocNode).data.text = "changed";
    expect(clip.nodes[0]?.data.text).toBe("Hi");
  });
});

describe("moveNodes", () => {
  it("moves the blocks named, rounded, and keeps the rest and every edge", () => {
    const before = sample();
    const doc = moveNodes(
      before,
      new Map([
        ["a", { x: 5.5, y: -3.2 }],
        ["zz", { x: 1, y: 1 }],
      ]),
    );
    expect(doc.nodes.map((n) => n.position)).toEqual([
      { x: 0, y: 0 },
      { x: 6, y: -3 },
      { x: 0, y: 200 },
      { x: 300, y: 300 },
    ]);
    expect(doc.nodes[0]).toBe(before.nodes[0]);
    expect(doc.edges).toBe(before.edges);
    expect(before.nodes[1]?.position).toEqual({ x: 0, y: 100 });
  });
});
