import type { NodeChange } from "@xyflow/react";
import { beforeEach, describe, expect, it } from "vitest";
import { tidyPositions } from "../graph/layout";
import { parseClip } from "../graph/ops";
import { BLOCKS, CATALOG, CURRENCIES } from "../test/fixtures";
import type { FlowDocument, Problem } from "../types";
import { createEditorStore, toDocument, type FlowNode, type Settings } from "./editor";

const SETTINGS: Settings = {
  name: "Lead flow",
  description: "",
  page: 7,
  trigger: { kind: "keywords", keywords: ["hi"], ref: "" },
};

/** Start -> msg -> ask; a condition on its own. */
function documentOf(): FlowDocument {
  return {
    nodes: [
      { id: "start", type: "start", position: { x: 0, y: 0 }, data: {} },
      {
        id: "msg",
        type: "send_message",
        position: { x: 0, y: 100 },
        data: { text: "Hi", quick_replies: [], buttons: [] },
      },
      {
        id: "ask",
        type: "ask",
        position: { x: 0, y: 200 },
        data: { question: "Email?", variable: "email", check: "email" },
      },
      {
        id: "if",
        type: "condition",
        position: { x: 300, y: 200 },
        data: { match: "all", rules: [{ variable: "email", operator: "is_set" }] },
      },
    ],
    edges: [
      { id: "e1", source: "start", sourceHandle: "next", target: "msg" },
      { id: "e2", source: "msg", sourceHandle: "next", target: "ask" },
    ],
  };
}

let clock = 0;
let store = createEditorStore(() => clock);

function setup(readOnly = false) {
  clock = 10_000;
  store = createEditorStore(() => clock);
  store.getState().load({ blocks: BLOCKS, document: documentOf(), settings: SETTINGS, readOnly });
}

const state = () => store.getState();
const doc = () => toDocument(state().nodes, state().edges);
const node = (id: string) => state().nodes.find((n) => n.id === id);
const selectedIds = () =>
  state()
    .nodes.filter((n) => n.selected)
    .map((n) => n.id);

function select(...ids: string[]) {
  state().onNodesChange(
    state().nodes.map((n) => ({ type: "select", id: n.id, selected: ids.includes(n.id) })),
  );
}

function selectEdges(...ids: string[]) {
  state().onEdgesChange(
    state().edges.map((e) => ({ type: "select", id: e.id, selected: ids.includes(e.id) })),
  );
}

/** A drag as the canvas reports it: moves while dragging, then the end at the last place. */
function drag(id: string, steps: { x: number; y: number }[]) {
  for (const position of steps) {
    state().onNodesChange([{ type: "position", id, position, dragging: true }]);
  }
  endDrag(id, steps[steps.length - 1] ?? { x: 0, y: 0 });
}

function endDrag(id: string, position: { x: number; y: number }) {
  const change: NodeChange<FlowNode> = { type: "position", id, position, dragging: false };
  state().onNodesChange([change]);
}

beforeEach(() => setup());

describe("load", () => {
  it("shows the document, named for people, with nothing to undo", () => {
    expect(doc()).toEqual(documentOf());
    expect(state().settings).toEqual(SETTINGS);
    expect(node("msg")?.ariaLabel).toBe("Send message: Hi");
    expect(node("ask")?.ariaLabel).toBe("Ask a question: Email?");
    expect(node("if")?.ariaLabel).toBe("Condition: email is set");
    expect(node("start")?.deletable).toBe(false);
    expect(node("msg")?.deletable).toBe(true);
    expect(state().history.past).toEqual([]);
    expect(state().changeCount).toBe(0);
    expect(state().readOnly).toBe(false);
    expect(Object.keys(state().blocks)).toEqual(BLOCKS.map((b) => b.type));
  });
});

describe("adding blocks", () => {
  it("adds the block with its defaults, selects only it, and is one change", () => {
    select("msg");
    selectEdges("e1");
    const id = state().addBlock("log_event", { x: 50, y: 60 });
    expect(id).toMatch(/^log-event-/);
    expect(node(id ?? "")).toMatchObject({
      type: "log_event",
      position: { x: 50, y: 60 },
      data: { event: "", params: {}, value: null, currency: "", logging_target: "page" },
      ariaLabel: "Log event",
    });
    expect(selectedIds()).toEqual([id]);
    expect(state().edges.some((e) => e.selected)).toBe(false);
    expect(state().changeCount).toBe(1);
    expect(state().history.past).toHaveLength(1);
  });

  it("shows the new block's problems at once", () => {
    const id = state().addBlock("send_message", { x: 0, y: 0 }) ?? "";
    expect(state().problemsByNode[id]).toEqual([
      {
        node_id: id,
        field: "data.text",
        message: "This is empty: fill it in.",
        severity: "error",
        code: "blank",
      },
    ]);
  });

  it("refuses a type the registry does not have", () => {
    expect(state().addBlock("teleport", { x: 0, y: 0 })).toBeNull();
    expect(state().changeCount).toBe(0);
  });
});

describe("connecting", () => {
  it("adds an edge from a free handle", () => {
    state().onConnect({ source: "ask", sourceHandle: "next", target: "if", targetHandle: null });
    expect(doc().edges.map((e) => [e.source, e.sourceHandle, e.target])).toEqual([
      ["start", "next", "msg"],
      ["msg", "next", "ask"],
      ["ask", "next", "if"],
    ]);
    expect(state().changeCount).toBe(1);
  });

  it("replaces the edge leaving a used handle", () => {
    state().onConnect({ source: "msg", sourceHandle: "next", target: "if", targetHandle: null });
    expect(doc().edges.map((e) => [e.source, e.sourceHandle, e.target])).toEqual([
      ["start", "next", "msg"],
      ["msg", "next", "if"],
    ]);
  });

  it("draws nothing into Start, and records nothing for it", () => {
    const before = state().edges;
    state().onConnect({ source: "ask", sourceHandle: "next", target: "start", targetHandle: null });
    expect(state().edges).toBe(before);
    expect(state().changeCount).toBe(0);
    expect(state().history.past).toEqual([]);
  });
});

describe("removing", () => {
  it("removes the selected blocks with their edges, and their problems", () => {
    state().updateNodeData("msg", { text: "" });
    expect(state().problemsByNode.msg).toHaveLength(1);
    select("msg");
    state().removeSelected();
    expect(doc().nodes.map((n) => n.id)).toEqual(["start", "ask", "if"]);
    expect(doc().edges).toEqual([]);
    expect(state().clientProblems).toEqual({});
    expect(state().problemsByNode).toEqual({});
  });

  it("removes selected edges and keeps their blocks", () => {
    selectEdges("e2");
    state().removeSelected();
    expect(doc().edges.map((e) => e.id)).toEqual(["e1"]);
    expect(doc().nodes).toHaveLength(4);
  });

  it("keeps Start, and when only Start is selected changes nothing", () => {
    select("start");
    state().removeSelected();
    expect(state().changeCount).toBe(0);
    select("start", "if");
    state().removeSelected();
    expect(doc().nodes.map((n) => n.id)).toEqual(["start", "msg", "ask"]);
    expect(state().changeCount).toBe(1);
  });

  it("does nothing with nothing selected", () => {
    state().removeSelected();
    expect(state().changeCount).toBe(0);
  });
});

describe("copy, paste and duplicate", () => {
  it("duplicates the selection with new ids, shifted, wired as the originals, and selects it", () => {
    select("msg", "ask");
    state().duplicateSelected();
    const nodes = doc().nodes;
    expect(nodes).toHaveLength(6);
    const [m2, a2] = nodes.slice(4);
    expect(m2).toEqual({ ...documentOf().nodes[1], id: m2?.id, position: { x: 40, y: 140 } });
    expect(a2).toEqual({ ...documentOf().nodes[2], id: a2?.id, position: { x: 40, y: 240 } });
    expect(doc().edges.slice(2)).toEqual([
      { id: expect.any(String) as unknown, source: m2?.id, sourceHandle: "next", target: a2?.id },
    ]);
    expect(selectedIds()).toEqual([m2?.id, a2?.id]);
    expect(state().changeCount).toBe(1);
  });

  it("copies what another editor can paste, leaving out Start", () => {
    select("start", "msg");
    const clip = state().copySelected();
    expect(clip?.nodes.map((n) => n.id)).toEqual(["msg"]);
    const text = JSON.stringify(clip);
    setup();
    const parsed = parseClip(text);
    if (!parsed) throw new Error("the clip did not parse");
    state().paste(parsed, { x: 0, y: 500 });
    expect(doc().nodes[4]).toMatchObject({ type: "send_message", position: { x: 0, y: 600 } });
    expect(doc().nodes[4]?.id).not.toBe("msg");
  });

  it("leaves out blocks of types this editor does not know", () => {
    const clip = {
      pagepulse: "blocks" as const,
      version: 1 as const,
      nodes: [{ id: "x", type: "teleport", position: { x: 0, y: 0 }, data: {} }],
      edges: [],
    };
    state().paste(clip);
    expect(doc().nodes).toHaveLength(4);
    expect(state().changeCount).toBe(0);
  });

  it("checks pasted blocks", () => {
    const clip = {
      pagepulse: "blocks" as const,
      version: 1 as const,
      nodes: [{ id: "x", type: "ask", position: { x: 0, y: 0 }, data: { question: "Q?" } }],
      edges: [],
    };
    state().paste(clip);
    const id = doc().nodes[4]?.id ?? "";
    expect(state().problemsByNode[id]?.map((p) => p.code)).toEqual(["required"]);
  });
});

describe("editing a block", () => {
  it("typing in one field within a second of the last keystroke is one undo step", () => {
    state().updateNodeData("msg", { text: "Hi t", quick_replies: [], buttons: [] }, "text");
    clock += 600;
    state().updateNodeData("msg", { text: "Hi th", quick_replies: [], buttons: [] }, "text");
    clock += 900;
    state().updateNodeData("msg", { text: "Hi there", quick_replies: [], buttons: [] }, "text");
    expect(state().history.past).toHaveLength(1);
    expect(state().changeCount).toBe(3);
    expect(node("msg")?.ariaLabel).toBe("Send message: Hi there");
    state().undo();
    expect(node("msg")?.data.text).toBe("Hi");
  });

  it("another field, or a pause of a second, is another step", () => {
    state().updateNodeData(
      "ask",
      { ...documentOf().nodes[2]?.data, question: "Mail?" },
      "question",
    );
    clock += 100;
    state().updateNodeData(
      "ask",
      { ...documentOf().nodes[2]?.data, question: "Mail?", variable: "mail" },
      "variable",
    );
    clock += 1000;
    state().updateNodeData(
      "ask",
      { ...documentOf().nodes[2]?.data, question: "Mail?", variable: "mail2" },
      "variable",
    );
    expect(state().history.past).toHaveLength(3);
    state().undo();
    expect(node("ask")?.data.variable).toBe("mail");
    state().undo();
    expect(node("ask")?.data).toMatchObject({ question: "Mail?", variable: "email" });
    state().undo();
    expect(node("ask")?.data.question).toBe("Email?");
  });

  it("the same field of another block is another step", () => {
    state().updateNodeData("msg", { text: "A" }, "text");
    state().updateNodeData("ask", { question: "B", variable: "v" }, "text");
    expect(state().history.past).toHaveLength(2);
  });

  it("changes only the edited block's object, so the canvas redraws only it", () => {
    const before = state().nodes;
    state().updateNodeData("msg", { text: "Hello" }, "text");
    const after = state().nodes;
    expect(after[1]).not.toBe(before[1]);
    expect(after.filter((n, i) => n === before[i]).map((n) => n.id)).toEqual([
      "start",
      "ask",
      "if",
    ]);
  });

  it("ignores a block that is not there", () => {
    state().updateNodeData("nope", { text: "x" });
    expect(state().changeCount).toBe(0);
  });
});

describe("settings", () => {
  it("changes the flow's settings as one step per field, coalescing typing", () => {
    state().updateSettings({ name: "Lead flow 2" }, "name");
    clock += 200;
    state().updateSettings({ name: "Lead flow 22" }, "name");
    state().updateSettings({ trigger: { kind: "get_started", keywords: [], ref: "" } });
    expect(state().settings).toEqual({
      ...SETTINGS,
      name: "Lead flow 22",
      trigger: { kind: "get_started", keywords: [], ref: "" },
    });
    expect(state().history.past).toHaveLength(2);
    expect(state().changeCount).toBe(3);
    state().undo();
    expect(state().settings.trigger).toBe(SETTINGS.trigger);
    state().undo();
    expect(state().settings).toBe(SETTINGS);
  });
});

describe("moving blocks", () => {
  it("a drag is one undo step and one change, counted when it ends", () => {
    for (const y of [210, 220, 230, 240]) {
      state().onNodesChange([
        { type: "position", id: "ask", position: { x: y - 200, y }, dragging: true },
      ]);
    }
    expect(state().changeCount).toBe(0);
    expect(state().dragging).toBe(true);
    expect(state().history.past).toHaveLength(1);
    endDrag("ask", { x: 40, y: 240 });
    expect(state().dragging).toBe(false);
    expect(state().changeCount).toBe(1);
    expect(state().history.past).toHaveLength(1);
    expect(node("ask")?.position).toEqual({ x: 40, y: 240 });
    state().undo();
    expect(node("ask")?.position).toEqual({ x: 0, y: 200 });
  });

  it("a move by keyboard (no drag before it) is undoable, presses in a row one step", () => {
    const nudge = (x: number) =>
      state().onNodesChange([
        { type: "position", id: "if", position: { x, y: 200 }, dragging: false },
      ]);
    nudge(305);
    clock += 300;
    nudge(310);
    expect(state().changeCount).toBe(2);
    expect(state().history.past).toHaveLength(1);
    clock += 1000;
    nudge(315);
    expect(state().history.past).toHaveLength(2);
    state().undo();
    expect(node("if")?.position).toEqual({ x: 310, y: 200 });
    state().undo();
    expect(node("if")?.position).toEqual({ x: 300, y: 200 });
  });

  it("tidy-up moves blocks, keeps every edge, and is one step", async () => {
    const edges = state().edges;
    const positions = await tidyPositions(doc().nodes, doc().edges, new Map());
    expect([...positions.keys()].sort()).toEqual(["ask", "if", "msg", "start"]);
    const y = (id: string) => positions.get(id)?.y ?? NaN;
    expect(y("start")).toBeLessThan(y("msg"));
    expect(y("msg")).toBeLessThan(y("ask"));
    state().applyPositions(positions);
    expect(state().edges).toBe(edges);
    expect(doc().edges).toEqual(documentOf().edges);
    expect(doc().nodes.map((n) => n.data)).toEqual(documentOf().nodes.map((n) => n.data));
    expect(node("ask")?.position).toEqual({
      x: Math.round(positions.get("ask")?.x ?? NaN),
      y: Math.round(y("ask")),
    });
    expect(state().history.past).toHaveLength(1);
  });
});

describe("replacing the document", () => {
  it("takes the new document exactly, an edge's changed handle included", () => {
    const theirs: FlowDocument = {
      nodes: documentOf().nodes,
      edges: [
        { id: "e1", source: "start", sourceHandle: "next", target: "msg" },
        { id: "e2", source: "if", sourceHandle: "true", target: "ask" },
        { id: "e3", source: "if", sourceHandle: "false", target: "msg" },
      ],
    };
    const e1 = state().edges[0];
    state().replaceDocument(theirs, null, false);
    expect(doc()).toEqual(theirs);
    expect(state().edges[0]).toBe(e1);
    expect(state().settings).toBe(SETTINGS);
    expect(state().history.past).toEqual([]);
    expect(state().changeCount).toBe(1);
    const handleOnly = structuredClone(theirs);
    (handleOnly.edges[1] as FlowDocument["edges"][number]).sourceHandle = "false";
    (handleOnly.edges[2] as FlowDocument["edges"][number]).sourceHandle = "true";
    state().replaceDocument(handleOnly, null, true);
    expect(doc()).toEqual(handleOnly);
    expect(state().history.past).toHaveLength(1);
  });

  it("checks the blocks whose data it changed", () => {
    const theirs = documentOf();
    (theirs.nodes[1] as FlowDocument["nodes"][number]).data = { text: "" };
    state().replaceDocument(theirs, null, false);
    expect(state().problemsByNode).toEqual({
      msg: [
        {
          node_id: "msg",
          field: "data.text",
          message: "This is empty: fill it in.",
          severity: "error",
          code: "blank",
        },
      ],
    });
  });
});

describe("undo and redo", () => {
  /** [what, the selection it needs (not a change), the change]. */
  const changes: [string, string[], () => void][] = [
    ["adding a block", [], () => void state().addBlock("end", { x: 1, y: 2 })],
    [
      "connecting",
      [],
      () =>
        state().onConnect({
          source: "ask",
          sourceHandle: "next",
          target: "if",
          targetHandle: null,
        }),
    ],
    [
      "replacing an edge",
      [],
      () =>
        state().onConnect({
          source: "msg",
          sourceHandle: "next",
          target: "if",
          targetHandle: null,
        }),
    ],
    ["removing", ["msg"], () => state().removeSelected()],
    [
      "pasting",
      ["msg", "ask"],
      () => {
        const clip = state().copySelected();
        if (clip) state().paste(clip, { x: 0, y: 300 });
      },
    ],
    ["duplicating", ["if"], () => state().duplicateSelected()],
    ["editing a block", [], () => state().updateNodeData("msg", { text: "" }, "text")],
    ["editing settings", [], () => state().updateSettings({ name: "Renamed" }, "name")],
    ["tidying up", [], () => state().applyPositions(new Map([["if", { x: 0, y: 300 }]]))],
    [
      "dragging",
      [],
      () =>
        drag("if", [
          { x: 1, y: 1 },
          { x: 2, y: 2 },
        ]),
    ],
    [
      "replacing the document",
      [],
      () =>
        state().replaceDocument(
          { nodes: documentOf().nodes.slice(0, 2), edges: [] },
          { ...SETTINGS, name: "Theirs" },
          true,
        ),
    ],
  ];

  it.each(changes)(
    "%s: undo restores exactly what was before, redo the change",
    (_, selection, act) => {
      if (selection.length) select(...selection);
      const before = { nodes: state().nodes, edges: state().edges, settings: state().settings };
      act();
      const after = { nodes: state().nodes, edges: state().edges, settings: state().settings };
      expect({ ...toDocument(after.nodes, after.edges), settings: after.settings }).not.toEqual({
        ...toDocument(before.nodes, before.edges),
        settings: before.settings,
      });
      expect(state().history.past).toHaveLength(1);
      const count = state().changeCount;
      state().undo();
      expect(state().nodes).toBe(before.nodes);
      expect(state().edges).toBe(before.edges);
      expect(state().settings).toBe(before.settings);
      expect(state().changeCount).toBe(count + 1);
      state().redo();
      expect(state().nodes).toBe(after.nodes);
      expect(state().edges).toBe(after.edges);
      expect(state().settings).toBe(after.settings);
      expect(state().changeCount).toBe(count + 2);
    },
  );

  it("undoes several changes in order and redoes them all", () => {
    const d0 = doc();
    state().updateNodeData("msg", { text: "One" });
    const d1 = doc();
    state().onConnect({ source: "ask", sourceHandle: "next", target: "if", targetHandle: null });
    const d2 = doc();
    state().undo();
    expect(doc()).toEqual(d1);
    state().undo();
    expect(doc()).toEqual(d0);
    state().undo();
    expect(doc()).toEqual(d0);
    state().redo();
    state().redo();
    expect(doc()).toEqual(d2);
  });

  it("a new change clears what could be redone", () => {
    state().updateNodeData("msg", { text: "One" });
    state().undo();
    state().updateSettings({ name: "Other" });
    const now = doc();
    state().redo();
    expect(doc()).toEqual(now);
    expect(node("msg")?.data.text).toBe("Hi");
    expect(state().history.future).toEqual([]);
  });

  it("re-checks blocks whose data undo brings back", () => {
    state().updateNodeData("msg", { text: "" });
    expect(state().problemsByNode.msg?.map((p) => p.code)).toEqual(["blank"]);
    state().undo();
    expect(state().problemsByNode.msg).toBeUndefined();
    state().redo();
    expect(state().problemsByNode.msg?.map((p) => p.code)).toEqual(["blank"]);
  });
});

describe("a read-only store", () => {
  it("refuses every change", () => {
    setup(true);
    const nodes = state().nodes;
    const edges = state().edges;
    select("msg");
    expect(state().addBlock("end", { x: 0, y: 0 })).toBeNull();
    state().onConnect({ source: "ask", sourceHandle: "next", target: "if", targetHandle: null });
    state().removeSelected();
    state().duplicateSelected();
    state().updateNodeData("msg", { text: "x" });
    state().updateSettings({ name: "x" });
    state().applyPositions(new Map([["msg", { x: 9, y: 9 }]]));
    drag("msg", [
      { x: 5, y: 5 },
      { x: 6, y: 6 },
    ]);
    state().undo();
    expect(state().changeCount).toBe(0);
    expect(state().history.past).toEqual([]);
    expect(toDocument(state().nodes, state().edges)).toEqual(toDocument(nodes, edges));
    expect(selectedIds()).toEqual(["msg"]);
    expect(state().settings).toBe(SETTINGS);
  });

  it("locks and unlocks in place (the phone view), keeping the document and its history", () => {
    setup();
    state().updateNodeData("msg", { text: "Hello", quick_replies: [], buttons: [] });
    const before = doc();
    const changes = state().changeCount;
    state().setReadOnly(true);
    select("msg");
    state().removeSelected();
    state().undo();
    expect(doc()).toEqual(before);
    expect(state().changeCount).toBe(changes);
    state().setReadOnly(false);
    state().undo();
    expect(node("msg")?.data.text).toBe("Hi");
  });
});

describe("problems", () => {
  const serverSays = (nodeId: string, field: string, code: string): Problem => ({
    node_id: nodeId,
    field,
    message: `server: ${code}`,
    severity: "error",
    code,
  });

  it("keeps only client problems newer than what the server validated", () => {
    state().updateNodeData("msg", { text: "" }); // change 1
    state().updateNodeData("ask", { question: "" }); // change 2
    expect(Object.keys(state().clientProblems).sort()).toEqual(["ask", "msg"]);
    const server = [
      serverSays("msg", "data.text", "blank"),
      serverSays("ask", "data.question", "server_only"),
      serverSays("ask", "", "unreachable"),
      serverSays("if", "data.rules", "x"),
      { ...serverSays("", "edges", "flow_level"), node_id: null },
    ];
    state().setServerProblems(server, 1);
    expect(Object.keys(state().clientProblems)).toEqual(["ask"]);
    expect(state().serverProblems).toBe(server);
    expect(state().problemsByNode.msg).toEqual([server[0]]);
    // ask was edited after the server looked: its data problems are the editor's own.
    expect(state().problemsByNode.ask?.map((p) => p.code)).toEqual([
      "unreachable",
      "blank",
      "required",
    ]);
    expect(state().problemsByNode.if).toEqual([server[3]]);
    state().setServerProblems([], 2);
    expect(state().clientProblems).toEqual({});
    expect(state().problemsByNode).toEqual({});
  });

  it("checks log-event blocks with the catalog's rules once it is set", () => {
    state().setCatalog({
      all: CATALOG.events,
      forTransport: CATALOG,
      transport: "page_activities",
      currencies: CURRENCIES,
    });
    const id = state().addBlock("log_event", { x: 0, y: 0 }) ?? "";
    state().updateNodeData(id, { event: "fb_mobile_purchase", value: 5, currency: "usd" });
    expect(node(id)?.ariaLabel).toBe("Log event: Purchase");
    expect(state().problemsByNode[id]).toEqual([
      {
        node_id: id,
        field: "data.currency",
        message: "Write currency codes in capitals: USD.",
        severity: "error",
        code: "invalid_currency",
      },
    ]);
    state().updateNodeData(id, { event: "fb_messenger_bot_message_received" });
    expect(state().problemsByNode[id]?.map((p) => p.code)).toEqual(["logged_by_facebook"]);
  });
});

describe("showing a version", () => {
  const version = (): FlowDocument => {
    const d = documentOf();
    return {
      nodes: [
        d.nodes[0],
        { ...d.nodes[1], data: { text: "Old text", quick_replies: [], buttons: [] } },
        d.nodes[2],
        { id: "gone", type: "end", position: { x: 0, y: 400 }, data: {} },
      ] as FlowDocument["nodes"],
      edges: [...d.edges, { id: "e9", source: "ask", sourceHandle: "next", target: "gone" }],
    };
  };

  it("compared: marks the draft's blocks and draws the version's lost ones as ghosts", () => {
    state().applyPositions(new Map([["ask", { x: 5, y: 200 }]]));
    state().showVersion({ number: 3, document: version() }, true);
    const view = state().versionView;
    expect(view?.number).toBe(3);
    expect(view?.against).toBe("the draft");
    expect(view?.nodes.map((n) => n.id)).toEqual(["start", "msg", "ask", "if", "gone"]);
    expect(view?.edges.map((e) => e.id)).toEqual(["e1", "e2", "e9"]);
    expect(state().diff?.nodes).toEqual({
      msg: "changed",
      ask: "moved",
      if: "added",
      gone: "removed",
    });
    expect(state().diff?.edges).toEqual({ e9: "removed" });
    expect(view?.nodes.find((n) => n.id === "gone")?.ariaLabel).toBe("End");
  });

  it("compared with another version: that version is drawn, marked against the first", () => {
    const later = version();
    later.nodes = later.nodes.filter((n) => n.id !== "gone");
    later.edges = later.edges.filter((e) => e.id !== "e9");
    state().showVersion({ number: 2, document: version() }, { number: 5, document: later });
    expect(state().versionView?.against).toBe("version 5");
    expect(state().versionView?.nodes.map((n) => n.id)).toEqual([
      ...later.nodes.map((n) => n.id),
      "gone",
    ]);
    expect(state().diff?.nodes).toEqual({ gone: "removed" });
    expect(state().diff?.edges).toEqual({ e9: "removed" });
    // The draft is untouched and still what Back to the draft shows.
    state().showVersion(null, false);
    expect(state().versionView).toBeNull();
  });

  it("open: shows the version itself, read-only, and closing brings the draft back", () => {
    const draft = state().nodes;
    state().showVersion({ number: 2, document: version() }, false);
    expect(toDocument(state().versionView?.nodes ?? [], state().versionView?.edges ?? [])).toEqual(
      version(),
    );
    expect(state().diff).toBeNull();
    expect(state().addBlock("end", { x: 0, y: 0 })).toBeNull();
    state().updateNodeData("msg", { text: "x" });
    state().onConnect({ source: "ask", sourceHandle: "next", target: "if", targetHandle: null });
    state().undo();
    expect(state().changeCount).toBe(0);
    state().selectOnly("gone");
    expect(
      state()
        .versionView?.nodes.filter((n) => n.selected)
        .map((n) => n.id),
    ).toEqual(["gone"]);
    state().showVersion(null, false);
    expect(state().versionView).toBeNull();
    expect(state().nodes).toBe(draft);
  });
});

describe("the Results overlay", () => {
  beforeEach(() => setup());

  const stats = {
    flow: 1,
    version: 1,
    versions: [1],
    from: "2026-11-05",
    to: "2026-12-04",
    started: 4,
    nodes: [
      {
        node_id: "msg",
        entered: 4,
        exited: 3,
        ended: 0,
        handed_off: 0,
        exits: [{ handle: "next", count: 3 }],
        events: null,
      },
    ],
  };

  it("puts the numbers on the blocks and edges shown, and makes the canvas read-only", () => {
    state().setResults(stats);
    expect(state().results?.byNode.msg).toMatchObject({ reached: 4, dropOff: 1 });
    expect(state().results?.byNode.if).toMatchObject({ reached: 0 });
    expect(state().results?.byEdge.e2).toEqual({ count: 3, share: 0.75 });

    const before = doc();
    expect(state().addBlock("end", { x: 0, y: 0 })).toBeNull();
    state().updateNodeData("msg", { text: "Changed" });
    state().setConnection("ask", "next", "if");
    state().updateSettings({ name: "Renamed" });
    expect(doc()).toEqual(before);
    expect(state().settings.name).toBe("Lead flow");

    state().setResults(null);
    state().updateSettings({ name: "Renamed" });
    expect(state().results).toBeNull();
    expect(state().settings.name).toBe("Renamed");
  });
});
