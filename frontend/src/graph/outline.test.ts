import { describe, expect, it } from "vitest";
import { BLOCKS_BY_TYPE } from "../test/fixtures";
import type { DocEdge, DocNode, JsonObject } from "../types";
import { flowOutline } from "./outline";

function node(id: string, type: string, data: JsonObject = {}, x = 0, y = 0): DocNode {
  return { id, type, position: { x, y }, data };
}

function edge(source: string, sourceHandle: string | null, target: string): DocEdge {
  return { id: `${source}-${sourceHandle}-${target}`, source, sourceHandle, target };
}

const reply = (id: string, title: string) => ({ id, title, payload: title });

/** Start -> welcome, whose two quick replies branch: "Quote" to an ask that logs a lead, "Help"
 * to a handoff; a condition nothing reaches sits at the top of the canvas. */
function lead() {
  const nodes = [
    node("orphan", "condition", { match: "all", rules: [] }, 500, -100),
    node("start", "start", {}, 0, 0),
    node("welcome", "send_message", {
      text: "Hi! What can we do for you?",
      quick_replies: [reply("q", "Quote"), reply("h", "Help")],
      buttons: [],
    }),
    node("email", "ask", { question: "Your email?", variable: "email", quick_replies: [] }),
    node("lead", "log_event", { event: "lead_submitted", params: [] }),
    node("bye", "end"),
    node("human", "handoff", { note: "Needs help" }),
  ];
  const edges = [
    edge("start", "next", "welcome"),
    edge("welcome", "reply-q", "email"),
    edge("welcome", "reply-h", "human"),
    edge("email", "next", "lead"),
    edge("lead", "next", "bye"),
  ];
  return { nodes, edges };
}

describe("flowOutline", () => {
  it("reads from Start, each branch to its end before the next, then what nothing reaches", () => {
    const { nodes, edges } = lead();
    const outline = flowOutline(nodes, edges, BLOCKS_BY_TYPE, (key) =>
      key === "lead_submitted" ? "Lead submitted" : undefined,
    );
    expect(outline.map((entry) => entry.id)).toEqual([
      "start",
      "welcome",
      "email",
      "lead",
      "bye",
      "human",
      "orphan",
    ]);
    expect(outline.map((entry) => entry.reachable)).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
      false,
    ]);
    expect(outline[3]?.name).toBe("Log event: Lead submitted");
  });

  it("lists every way out with where it leads, in the block's own order", () => {
    const { nodes, edges } = lead();
    const welcome = flowOutline(nodes, edges, BLOCKS_BY_TYPE).find((e) => e.id === "welcome");
    expect(welcome?.name).toBe("Send message: Hi! What can we do for you?");
    expect(welcome?.exits).toEqual([
      {
        label: "Quote",
        target: "email",
        targetName: "Ask a question: Your email?",
        required: false,
      },
      {
        label: "Help",
        target: "human",
        targetName: "Hand off to a person: Needs help",
        required: false,
      },
      // Branching renames Next, and it is not wired: the conversation waits there.
      { label: "Any other answer", target: null, targetName: null, required: true },
    ]);
    const human = flowOutline(nodes, edges, BLOCKS_BY_TYPE).find((e) => e.id === "human");
    expect(human?.exits).toEqual([
      { label: "After the agent", target: null, targetName: null, required: false },
    ]);
  });

  it("visits a block once however many ways lead to it, and survives loops", () => {
    const nodes = [
      node("start", "start"),
      node("ask", "ask", { question: "Again?", variable: "again", quick_replies: [] }),
      node("check", "condition", { match: "all", rules: [] }),
    ];
    const edges = [
      edge("start", "next", "ask"),
      edge("ask", "next", "check"),
      edge("check", "true", "ask"),
      edge("check", "false", "ask"),
    ];
    const outline = flowOutline(nodes, edges, BLOCKS_BY_TYPE);
    expect(outline.map((entry) => entry.id)).toEqual(["start", "ask", "check"]);
    expect(outline[2]?.exits.map((exit) => exit.targetName)).toEqual([
      "Ask a question: Again?",
      "Ask a question: Again?",
    ]);
  });

  it("orders blocks nothing reaches by their place on the canvas, top to bottom", () => {
    const nodes = [
      node("low", "end", {}, 0, 300),
      node("high-right", "end", {}, 200, 100),
      node("high-left", "end", {}, 0, 100),
    ];
    expect(flowOutline(nodes, [], BLOCKS_BY_TYPE).map((entry) => entry.id)).toEqual([
      "high-left",
      "high-right",
      "low",
    ]);
  });

  it("ignores an edge to a block that is not there", () => {
    const nodes = [node("start", "start")];
    const outline = flowOutline(nodes, [edge("start", "next", "gone")], BLOCKS_BY_TYPE);
    expect(outline).toHaveLength(1);
    expect(outline[0]?.exits).toEqual([
      { label: "Next", target: null, targetName: null, required: true },
    ]);
  });
});
