import { describe, expect, it } from "vitest";
import { BLOCKS_BY_TYPE } from "../test/fixtures";
import type { BlockType, DocEdge, DocNode, JsonObject } from "../types";
import { upstreamVariables, variablesSetBy } from "./variables";

/** The registry, with an Ask naming the field that sets a variable (`sets_from`). */
const BLOCKS: Record<string, BlockType> = {
  ...BLOCKS_BY_TYPE,
  ask: { ...(BLOCKS_BY_TYPE.ask as BlockType), sets_from: ["variable"] },
};

const SYSTEM = ["page_id", "psid", "ref"];

function ask(id: string, variable: string, data: JsonObject = {}): DocNode {
  return { id, type: "ask", position: { x: 0, y: 0 }, data: { question: "?", variable, ...data } };
}

function other(id: string, type = "send_message"): DocNode {
  return { id, type, position: { x: 0, y: 0 }, data: { text: "Hi" } };
}

function edge(source: string, target: string, sourceHandle = "next"): DocEdge {
  return { id: `${source}-${sourceHandle}-${target}`, source, sourceHandle, target };
}

/**
 *  start -> askName -> cond -(true)-> askEmail -> me -> askLater -> end
 *                          -(false)-> askPhone -> me
 *                                    askSibling (off cond's true branch, not into me)
 */
const nodes = [
  other("start", "start"),
  ask("askName", "name", { quick_replies: [{ title: "Skip" }] }),
  other("cond", "condition"),
  ask("askEmail", "email"),
  ask("askPhone", "phone"),
  other("me"),
  ask("askLater", "later"),
  other("end", "end"),
  ask("askSibling", "sibling"),
];
const edges = [
  edge("start", "askName"),
  edge("askName", "cond"),
  edge("cond", "askEmail", "true"),
  edge("cond", "askPhone", "false"),
  edge("askEmail", "me"),
  edge("askPhone", "me"),
  edge("me", "askLater"),
  edge("askLater", "end"),
  edge("askEmail", "askSibling"),
];

describe("variablesSetBy", () => {
  it("names the variable an Ask stores, and its _payload when it has quick replies", () => {
    expect(variablesSetBy(BLOCKS.ask, ask("a", "email"))).toEqual(["email"]);
    expect(
      variablesSetBy(BLOCKS.ask, ask("a", "size", { quick_replies: [{ title: "S" }] })),
    ).toEqual(["size", "size_payload"]);
    expect(variablesSetBy(BLOCKS.ask, ask("a", "size", { quick_replies: [] }))).toEqual(["size"]);
  });

  it("names nothing for a blank or invalid name, or a block that sets none", () => {
    expect(variablesSetBy(BLOCKS.ask, ask("a", ""))).toEqual([]);
    expect(variablesSetBy(BLOCKS.ask, ask("a", "1email"))).toEqual([]);
    expect(variablesSetBy(BLOCKS.send_message, other("m"))).toEqual([]);
    expect(variablesSetBy(undefined, ask("a", "email"))).toEqual([]);
  });
});

describe("upstreamVariables", () => {
  it("offers the variables set on every path into the block, sorted, then the system ones", () => {
    expect(upstreamVariables(nodes, edges, BLOCKS, "me", SYSTEM)).toEqual([
      "email",
      "name",
      "name_payload",
      "phone",
      "page_id",
      "psid",
      "ref",
    ]);
  });

  it("leaves out the block's own variable, those set downstream and on a sibling branch", () => {
    expect(upstreamVariables(nodes, edges, BLOCKS, "askEmail", SYSTEM)).toEqual([
      "name",
      "name_payload",
      "page_id",
      "psid",
      "ref",
    ]);
    expect(upstreamVariables(nodes, edges, BLOCKS, "askPhone", [])).toEqual([
      "name",
      "name_payload",
    ]);
  });

  it("offers only the system variables to a block nothing leads into", () => {
    expect(upstreamVariables(nodes, edges, BLOCKS, "start", SYSTEM)).toEqual(SYSTEM);
    expect(upstreamVariables(nodes, [], BLOCKS, "me", SYSTEM)).toEqual(SYSTEM);
  });

  it("ends in a cycle, and a block in a loop sees its own variable from the last time round", () => {
    const loop = [edge("start", "a"), edge("a", "b"), edge("b", "a")];
    const loopNodes = [other("start", "start"), ask("a", "first"), ask("b", "second")];
    expect(upstreamVariables(loopNodes, loop, BLOCKS, "a", [])).toEqual(["first", "second"]);
    const self = [edge("a", "a")];
    expect(upstreamVariables([ask("a", "again")], self, BLOCKS, "a", [])).toEqual(["again"]);
  });

  it("lists a system variable once even when a block also sets it", () => {
    const n = [other("start", "start"), ask("a", "ref"), other("m")];
    const e = [edge("start", "a"), edge("a", "m")];
    expect(upstreamVariables(n, e, BLOCKS, "m", SYSTEM)).toEqual(["ref", "page_id", "psid"]);
  });

  it("ignores edges from blocks that are not in the document", () => {
    expect(upstreamVariables(nodes, [edge("ghost", "me")], BLOCKS, "me", [])).toEqual([]);
  });
});
