import { beforeEach, describe, expect, it } from "vitest";
import { ApiError, type Api, type SaveBody } from "../api";
import { BLOCKS } from "../test/fixtures";
import type { Flow, FlowDocument, Problem, ValidationResult } from "../types";
import { Autosave, type SaveState, type Timers } from "./autosave";
import { createEditorStore, toDocument, type EditorStoreApi, type Settings } from "./editor";

/** Timers that run only when the test moves the clock. */
class FakeTimers implements Timers {
  now = 0;
  private next = 1;
  private readonly due = new Map<number, { at: number; fn: () => void }>();

  set(fn: () => void, ms: number): number {
    const handle = this.next++;
    this.due.set(handle, { at: this.now + ms, fn });
    return handle;
  }

  clear(handle: unknown): void {
    this.due.delete(handle as number);
  }

  get pending(): number {
    return this.due.size;
  }

  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const first = [...this.due].sort((a, b) => a[1].at - b[1].at)[0];
      if (!first || first[1].at > end) break;
      this.due.delete(first[0]);
      this.now = first[1].at;
      first[1].fn();
    }
    this.now = end;
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Let every pending promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const SETTINGS: Settings = {
  name: "Lead flow",
  description: "",
  page: 7,
  trigger: { kind: "default", keywords: [], ref: "" },
};

const DOCUMENT: FlowDocument = {
  nodes: [
    { id: "start", type: "start", position: { x: 0, y: 0 }, data: {} },
    {
      id: "msg",
      type: "send_message",
      position: { x: 0, y: 100 },
      data: { text: "Hi", quick_replies: [], buttons: [] },
    },
  ],
  edges: [{ id: "e1", source: "start", sourceHandle: "next", target: "msg" }],
};

function flow(revision: number, document: FlowDocument, settings: Settings = SETTINGS): Flow {
  return {
    id: 42,
    ...settings,
    page_name: "Cafe",
    status: "draft",
    revision,
    latest_version: null,
    has_unpublished_changes: true,
    updated_by: "ana@example.com",
    created_at: "2026-12-01T10:00:00Z",
    updated_at: "2026-12-04T10:00:00Z",
    document,
  };
}

/** The API's edge: each save waits until the test answers it. */
class FakeApi {
  saves: { id: number; body: SaveBody; answer: Deferred<Flow> }[] = [];
  validations: number[] = [];
  problems: Problem[] = [];

  save(id: number, body: SaveBody): Promise<Flow> {
    const answer = deferred<Flow>();
    this.saves.push({ id, body: structuredClone(body), answer });
    return answer.promise;
  }

  validate(id: number): Promise<ValidationResult> {
    this.validations.push(id);
    return Promise.resolve({
      valid: this.problems.length === 0,
      errors: this.problems.length,
      warnings: 0,
      problems: this.problems,
    });
  }

  /** Answer save `index` as the server would: the document it got, one revision on. */
  async accept(index: number): Promise<void> {
    const save = this.saves[index];
    if (!save) throw new Error(`no save ${index}`);
    const { revision, document, ...settings } = save.body;
    save.answer.resolve(flow(revision + 1, document, settings));
    await settle();
  }

  async refuse(index: number, error: ApiError): Promise<void> {
    const save = this.saves[index];
    if (!save) throw new Error(`no save ${index}`);
    save.answer.reject(error);
    await settle();
  }
}

let store: EditorStoreApi;
let api: FakeApi;
let timers: FakeTimers;
let states: SaveState[];
let saver: Autosave;

function rename(name: string) {
  store.getState().updateSettings({ name });
}

beforeEach(() => {
  store = createEditorStore(() => timers.now);
  store
    .getState()
    .load({ blocks: BLOCKS, document: DOCUMENT, settings: SETTINGS, readOnly: false });
  api = new FakeApi();
  timers = new FakeTimers();
  states = [];
  saver = new Autosave(
    store,
    api as unknown as Api,
    42,
    3,
    (state) => states.push(state),
    () => undefined,
    700,
    timers,
  );
  saver.start();
});

describe("debouncing", () => {
  it("saves once, a moment after the last of many changes, what is on screen", async () => {
    for (let i = 1; i <= 5; i++) {
      rename(`Lead flow ${i}`);
      timers.advance(300);
    }
    expect(api.saves).toHaveLength(0);
    expect(saver.current).toEqual({ kind: "dirty" });
    expect(saver.hasUnsavedChanges()).toBe(true);
    timers.advance(399);
    expect(api.saves).toHaveLength(0);
    timers.advance(1);
    expect(api.saves).toHaveLength(1);
    expect(api.saves[0]?.id).toBe(42);
    expect(api.saves[0]?.body).toEqual({
      revision: 3,
      ...SETTINGS,
      name: "Lead flow 5",
      document: DOCUMENT,
    });
    expect(saver.current).toEqual({ kind: "saving" });
    await api.accept(0);
    expect(saver.current).toEqual({ kind: "saved" });
    expect(saver.revision).toBe(4);
    expect(saver.hasUnsavedChanges()).toBe(false);
    timers.advance(10_000);
    expect(api.saves).toHaveLength(1);
    expect(states.map((s) => s.kind)).toEqual(["dirty", "saving", "saved"]);
  });

  it("saves nothing when nothing changed, and stops listening when stopped", async () => {
    await saver.flush();
    expect(api.saves).toHaveLength(0);
    rename("x");
    saver.stop();
    timers.advance(10_000);
    rename("y");
    timers.advance(10_000);
    expect(api.saves).toHaveLength(0);
    expect(timers.pending).toBe(0);
  });

  it("saves a block edit with the document as the canvas has it", async () => {
    store.getState().updateNodeData("msg", { text: "Hello", quick_replies: [], buttons: [] });
    timers.advance(700);
    const sent = api.saves[0]?.body.document;
    expect(sent).toEqual(toDocument(store.getState().nodes, store.getState().edges));
    expect(sent?.nodes[1]?.data).toEqual({ text: "Hello", quick_replies: [], buttons: [] });
    await api.accept(0);
  });
});

describe("one save in flight", () => {
  it("changes during a save make exactly one more save, against the revision it returned", async () => {
    rename("one");
    timers.advance(700);
    expect(api.saves).toHaveLength(1);
    rename("two");
    timers.advance(700); // the debounce ends while the first save is still out
    rename("three");
    timers.advance(700);
    expect(api.saves).toHaveLength(1);
    await api.accept(0);
    timers.advance(700);
    expect(api.saves).toHaveLength(2);
    expect(api.saves[1]?.body.revision).toBe(4);
    expect(api.saves[1]?.body.name).toBe("three");
    await api.accept(1);
    timers.advance(10_000);
    expect(api.saves).toHaveLength(2);
    expect(saver.current).toEqual({ kind: "saved" });
    expect(saver.revision).toBe(5);
  });

  it("a change shortly before the save returns is saved once, after it", async () => {
    rename("one");
    timers.advance(700);
    rename("two");
    timers.advance(100);
    await api.accept(0);
    expect(saver.current).toEqual({ kind: "dirty" });
    timers.advance(10_000);
    expect(api.saves).toHaveLength(2);
    expect(api.saves[1]?.body).toMatchObject({ revision: 4, name: "two" });
    await api.accept(1);
    expect(saver.current).toEqual({ kind: "saved" });
  });

  it("sends each save the revision the last one returned", async () => {
    for (const [i, name] of ["a", "b", "c"].entries()) {
      rename(name);
      timers.advance(700);
      expect(api.saves[i]?.body.revision).toBe(3 + i);
      await api.accept(i);
    }
    expect(saver.revision).toBe(6);
  });

  it("flush saves at once and resolves when the server has it", async () => {
    rename("now");
    const flushed = saver.flush();
    expect(api.saves).toHaveLength(1);
    expect(timers.pending).toBe(0);
    await api.accept(0);
    await flushed;
    expect(saver.current).toEqual({ kind: "saved" });
  });
});

describe("after a save", () => {
  it("validates the draft and shows the server's problems, keeping newer edits' own", async () => {
    const problem: Problem = {
      node_id: "msg",
      field: "data.text",
      message: "server says",
      severity: "warning",
      code: "x",
    };
    api.problems = [problem];
    store.getState().updateNodeData("msg", { text: "" }); // change 1, a problem of its own
    timers.advance(700);
    store.getState().updateNodeData("msg", { text: "" }); // change 2, during the save
    await api.accept(0);
    expect(api.validations).toEqual([42]);
    expect(store.getState().serverProblems).toEqual([problem]);
    // change 2 came after what the server validated: the editor's own check stands.
    expect(Object.values(store.getState().clientProblems).map((c) => c.at)).toEqual([2]);
    timers.advance(700);
    await api.accept(1);
    expect(api.validations).toEqual([42, 42]);
    expect(store.getState().clientProblems).toEqual({});
    expect(store.getState().problemsByNode).toEqual({ msg: [problem] });
  });
});

describe("a conflict (409)", () => {
  const conflict = () =>
    new ApiError(409, "stale_revision", "Someone else saved this flow.", {
      current_revision: 9,
      updated_by: "bo@example.com",
      updated_at: "2026-12-04T11:00:00Z",
    });

  async function intoConflict() {
    rename("mine");
    timers.advance(700);
    await api.refuse(0, conflict());
  }

  it("stops with who saved and when", async () => {
    await intoConflict();
    expect(saver.current).toEqual({
      kind: "conflict",
      conflict: {
        currentRevision: 9,
        updatedBy: "bo@example.com",
        updatedAt: "2026-12-04T11:00:00Z",
        message: "Someone else saved this flow.",
      },
    });
    expect(saver.hasUnsavedChanges()).toBe(true);
  });

  it("reads missing details as unknown", async () => {
    rename("mine");
    timers.advance(700);
    await api.refuse(0, new ApiError(409, "stale_revision", "Stale.", { updated_by: 5 }));
    expect(saver.current).toEqual({
      kind: "conflict",
      conflict: { currentRevision: 0, updatedBy: null, updatedAt: null, message: "Stale." },
    });
  });

  it("saves nothing more until the person chooses", async () => {
    await intoConflict();
    rename("mine 2");
    timers.advance(60_000);
    await saver.flush();
    expect(api.saves).toHaveLength(1);
    expect(saver.current.kind).toBe("conflict");
  });

  it("keep mine saves what is on screen against the newer revision", async () => {
    await intoConflict();
    rename("mine 2");
    const kept = saver.keepMine();
    expect(api.saves).toHaveLength(2);
    expect(api.saves[1]?.body).toMatchObject({ revision: 9, name: "mine 2" });
    await api.accept(1);
    await kept;
    expect(saver.current).toEqual({ kind: "saved" });
    expect(saver.revision).toBe(10);
  });

  it("load theirs shows their draft without saving it, and undo brings mine back", async () => {
    await intoConflict();
    const theirs: FlowDocument = {
      nodes: [DOCUMENT.nodes[0] as FlowDocument["nodes"][number]],
      edges: [],
    };
    saver.loadTheirs(flow(9, theirs, { ...SETTINGS, name: "theirs" }));
    await settle();
    expect(toDocument(store.getState().nodes, store.getState().edges)).toEqual(theirs);
    expect(store.getState().settings.name).toBe("theirs");
    expect(saver.current).toEqual({ kind: "saved" });
    expect(saver.revision).toBe(9);
    expect(saver.hasUnsavedChanges()).toBe(false);
    expect(api.validations).toEqual([42]);
    timers.advance(60_000);
    expect(api.saves).toHaveLength(1);

    store.getState().undo();
    expect(toDocument(store.getState().nodes, store.getState().edges)).toEqual(DOCUMENT);
    expect(store.getState().settings.name).toBe("mine");
    timers.advance(700);
    expect(api.saves).toHaveLength(2);
    expect(api.saves[1]?.body).toMatchObject({ revision: 9, name: "mine", document: DOCUMENT });
    await api.accept(1);
  });

  it("keep mine does nothing when there is no conflict", async () => {
    await saver.keepMine();
    expect(api.saves).toHaveLength(0);
    expect(saver.revision).toBe(3);
  });
});

describe("failures", () => {
  it("a network error says so and tries again, more slowly each time", async () => {
    rename("mine");
    timers.advance(700);
    const offline = new ApiError(
      0,
      "network",
      "The server could not be reached: check your connection.",
      {},
    );
    await api.refuse(0, offline);
    expect(saver.current).toEqual({
      kind: "error",
      message: "The server could not be reached: check your connection. Trying again…",
    });
    timers.advance(1999);
    expect(api.saves).toHaveLength(1);
    timers.advance(1);
    expect(api.saves).toHaveLength(2);
    expect(api.saves[1]?.body).toMatchObject({ revision: 3, name: "mine" });
    await api.refuse(1, offline);
    expect(saver.current.kind).toBe("error");
    timers.advance(3999);
    expect(api.saves).toHaveLength(2);
    timers.advance(1);
    expect(api.saves).toHaveLength(3);
    await api.accept(2);
    expect(saver.current).toEqual({ kind: "saved" });
    expect(saver.revision).toBe(4);
  });

  it("a server error (5xx) is retried too", async () => {
    rename("mine");
    timers.advance(700);
    await api.refuse(0, new ApiError(503, "http_503", "The server answered 503.", {}));
    expect(saver.current).toEqual({
      kind: "error",
      message: "The server answered 503. Trying again…",
    });
    timers.advance(2000);
    expect(api.saves).toHaveLength(2);
    await api.accept(1);
  });

  it("a refusal (4xx) says why and waits for the next change", async () => {
    rename("mine");
    timers.advance(700);
    await api.refuse(0, new ApiError(400, "invalid", "The trigger needs a keyword.", {}));
    expect(saver.current).toEqual({ kind: "error", message: "The trigger needs a keyword." });
    timers.advance(60_000);
    expect(api.saves).toHaveLength(1);
    rename("mine, fixed");
    timers.advance(700);
    expect(api.saves).toHaveLength(2);
    await api.accept(1);
    expect(saver.current).toEqual({ kind: "saved" });
  });
});
