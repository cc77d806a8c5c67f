import { describe, expect, it } from "vitest";
import { LIMIT, emptyHistory, record, redo, undo } from "./history";

describe("undo history", () => {
  it("starts empty: nothing to undo or redo", () => {
    expect(undo(emptyHistory<string>(), "now")).toBeNull();
    expect(redo(emptyHistory<string>(), "now")).toBeNull();
  });

  it("undoes to the state before the change and redoes back to it", () => {
    const h = record(emptyHistory<string>(), "a", 0);
    const back = undo(h, "b");
    expect(back?.state).toBe("a");
    expect(back?.history).toEqual({ past: [], future: ["b"], lastKey: null, lastAt: 0 });
    const again = back && redo(back.history, "a");
    expect(again?.state).toBe("b");
    expect(again?.history).toEqual({ past: ["a"], future: [], lastKey: null, lastAt: 0 });
  });

  it("walks several steps back and forth in order", () => {
    let h = emptyHistory<number>();
    h = record(h, 1, 0);
    h = record(h, 2, 0);
    h = record(h, 3, 0);
    let current = 4;
    const seen: number[] = [];
    for (;;) {
      const step = undo(h, current);
      if (!step) break;
      ({ history: h, state: current } = step);
      seen.push(current);
    }
    expect(seen).toEqual([3, 2, 1]);
    for (;;) {
      const step = redo(h, current);
      if (!step) break;
      ({ history: h, state: current } = step);
      seen.push(current);
    }
    expect(seen).toEqual([3, 2, 1, 2, 3, 4]);
  });

  it("clears what could be redone when a new change is recorded", () => {
    const h = record(record(emptyHistory<string>(), "a", 0), "b", 0);
    const back = undo(h, "c");
    expect(back?.history.future).toEqual(["c"]);
    const branched = back && record(back.history, "b", 10);
    expect(branched?.future).toEqual([]);
    expect(branched?.past).toEqual(["a", "b"]);
  });

  it("coalesces edits with the same key within the window into one step", () => {
    let h = record(emptyHistory<string>(), "", 1000, "text");
    h = record(h, "H", 1500, "text");
    h = record(h, "Hi", 2400, "text");
    expect(h.past).toEqual([""]);
    expect(h.lastAt).toBe(2400);
  });

  it("starts a new step after the window, from the last edit, not the first", () => {
    let h = record(emptyHistory<string>(), "", 1000, "text");
    h = record(h, "H", 1999, "text");
    expect(h.past).toEqual([""]);
    h = record(h, "Hi", 2999, "text");
    expect(h.past).toEqual(["", "Hi"]);
  });

  it("starts a new step for another key, or for an edit without a key", () => {
    let h = record(emptyHistory<string>(), "0", 0, "text");
    h = record(h, "1", 10, "title");
    h = record(h, "2", 20, null);
    h = record(h, "3", 30, null);
    expect(h.past).toEqual(["0", "1", "2", "3"]);
  });

  it("does not coalesce across an undo", () => {
    let h = record(emptyHistory<string>(), "a", 0, "text");
    const back = undo(h, "b");
    if (!back) throw new Error("nothing to undo");
    h = record(back.history, "a", 10, "text");
    expect(h.past).toEqual(["a"]);
    expect(h.future).toEqual([]);
  });

  it("keeps the most recent LIMIT steps", () => {
    let h = emptyHistory<number>();
    for (let i = 0; i < LIMIT + 5; i++) h = record(h, i, i);
    expect(h.past).toHaveLength(LIMIT);
    expect(h.past[0]).toBe(5);
    expect(h.past[LIMIT - 1]).toBe(LIMIT + 4);
  });
});
