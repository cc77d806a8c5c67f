import { describe, expect, it } from "vitest";
import {
  computeResults,
  edgeResultText,
  nodeResultText,
  percent,
  statsQuery,
  type FlowStats,
  type NodeStats,
} from "./results";

function stat(node_id: string, counts: Partial<NodeStats> = {}): NodeStats {
  return {
    node_id,
    entered: 0,
    exited: 0,
    ended: 0,
    handed_off: 0,
    exits: [],
    events: null,
    ...counts,
  };
}

const events = {
  delivered: 5,
  failed: 1,
  not_sent: 2,
  pending: 0,
  last_error: "(#100) Invalid parameter",
  last_error_at: "2026-12-04T10:00:00Z",
};

const stats: FlowStats = {
  flow: 1,
  version: 2,
  versions: [2, 1],
  from: "2026-11-05",
  to: "2026-12-04",
  started: 12,
  nodes: [
    stat("start", { entered: 12, exited: 12, exits: [{ handle: "next", count: 12 }] }),
    // 12 asked, 9 answered, 3 never did: the drop-off
    stat("ask", { entered: 12, exited: 9, exits: [{ handle: "next", count: 9 }] }),
    stat("check", {
      entered: 9,
      exited: 9,
      exits: [
        { handle: "true", count: 6 },
        { handle: "false", count: 3 },
      ],
    }),
    stat("lead", { entered: 6, exited: 6, exits: [{ handle: "next", count: 6 }], events }),
    stat("end", { entered: 6, ended: 6 }),
    stat("human", { entered: 3, handed_off: 3 }),
  ],
};

const edges = [
  { id: "e1", source: "start", sourceHandle: "next" },
  { id: "e2", source: "ask", sourceHandle: null },
  { id: "e3", source: "check", sourceHandle: "true" },
  { id: "e4", source: "check", sourceHandle: "false" },
  { id: "e5", source: "lead", sourceHandle: "next" },
  { id: "e6", source: "new", sourceHandle: "next" },
];

describe("computeResults", () => {
  const results = computeResults(
    stats,
    ["start", "ask", "check", "lead", "end", "human", "new"],
    edges,
  );

  it("counts who reached each block and who dropped off there", () => {
    expect(results.byNode.ask).toEqual({
      reached: 12,
      ended: 0,
      handedOff: 0,
      dropOff: 3,
      dropShare: 0.25,
      events: null,
    });
    // Ending at End and being handed off are not drop-offs.
    expect(results.byNode.end?.dropOff).toBe(0);
    expect(results.byNode.human).toMatchObject({ reached: 3, handedOff: 3, dropOff: 0 });
    expect(results.started).toBe(12);
  });

  it("gives a block nobody reached zeros, and a log-event block its events", () => {
    expect(results.byNode.new).toMatchObject({ reached: 0, dropOff: 0, dropShare: 0 });
    expect(results.byNode.lead?.events).toEqual(events);
  });

  it("gives each edge the share of its source's people that went that way", () => {
    expect(results.byEdge.e1).toEqual({ count: 12, share: 1 });
    expect(results.byEdge.e2).toEqual({ count: 9, share: 0.75 }); // null handle = "next"
    expect(results.byEdge.e3).toEqual({ count: 6, share: 6 / 9 });
    expect(results.byEdge.e4).toEqual({ count: 3, share: 3 / 9 });
    expect(results.byEdge.e6).toEqual({ count: 0, share: 0 });
  });

  it("never shows more than everyone, nor fewer than none", () => {
    const odd = computeResults(
      {
        ...stats,
        nodes: [stat("a", { entered: 2, exited: 5, exits: [{ handle: "next", count: 5 }] })],
      },
      ["a"],
      [{ id: "x", source: "a", sourceHandle: "next" }],
    );
    expect(odd.byNode.a?.dropOff).toBe(0);
    expect(odd.byEdge.x?.share).toBe(1);
  });
});

describe("the overlay's words", () => {
  it("says percentages plainly", () => {
    expect([percent(0), percent(0.001), percent(2 / 3), percent(1)]).toEqual([
      "0%",
      "<1%",
      "67%",
      "100%",
    ]);
  });

  it("describes a block and an edge", () => {
    expect(
      nodeResultText({
        reached: 12,
        ended: 0,
        handedOff: 0,
        dropOff: 3,
        dropShare: 0.25,
        events: null,
      }),
    ).toBe("12 people reached, 3 dropped off (25%)");
    expect(
      nodeResultText({
        reached: 1,
        ended: 0,
        handedOff: 1,
        dropOff: 0,
        dropShare: 0,
        events: null,
      }),
    ).toBe("1 person reached, 1 handed off");
    expect(edgeResultText({ count: 6, share: 6 / 9 })).toEqual({
      label: "67% · 6",
      name: "67% went this way (6 people)",
    });
  });

  it("asks for the range and version chosen", () => {
    expect(statsQuery({ from: "2026-11-01", to: "2026-11-30", version: "latest" })).toBe(
      "?from=2026-11-01&to=2026-11-30",
    );
    expect(statsQuery({ from: "", to: "", version: "all" })).toBe("?version=all");
    expect(statsQuery({ from: "", to: "", version: "latest" })).toBe("");
  });
});
