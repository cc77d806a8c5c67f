/** Autosave: the draft saves itself a moment after each change, one save in flight at a time,
 * each naming the revision it started from. A 409 stops saving until the person chooses
 * ("Load theirs" or "Keep mine"); nothing is written over anyone silently. After each save the
 * server validates the draft and its problems go on the blocks. */

import { ApiError, type Api } from "../api";
import type { Flow, JsonObject } from "../types";
import { toDocument, type EditorStoreApi, type Settings } from "./editor";

export interface ConflictDetails {
  currentRevision: number;
  updatedBy: string | null;
  updatedAt: string | null;
  message: string;
}

export type SaveState =
  | { kind: "saved" }
  | { kind: "dirty" }
  | { kind: "saving" }
  | { kind: "error"; message: string }
  | { kind: "conflict"; conflict: ConflictDetails };

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const browserTimers: Timers = {
  set: (fn, ms) => window.setTimeout(fn, ms),
  clear: (handle) => window.clearTimeout(handle as number),
};

function conflictOf(error: ApiError): ConflictDetails {
  const d: JsonObject = error.details;
  return {
    currentRevision: typeof d.current_revision === "number" ? d.current_revision : 0,
    updatedBy: typeof d.updated_by === "string" ? d.updated_by : null,
    updatedAt: typeof d.updated_at === "string" ? d.updated_at : null,
    message: error.message,
  };
}

export function settingsOf(flow: Flow): Settings {
  return {
    name: flow.name,
    description: flow.description,
    page: flow.page,
    trigger: flow.trigger,
  };
}

export class Autosave {
  revision: number;
  private savedChange = 0;
  private timer: unknown = null;
  private inFlight: Promise<void> | null = null;
  private state: SaveState = { kind: "saved" };
  private unsubscribe: (() => void) | null = null;
  private retries = 0;

  constructor(
    private readonly store: EditorStoreApi,
    private readonly api: Api,
    private readonly flowId: number,
    revision: number,
    private readonly onState: (state: SaveState) => void,
    private readonly onSaved: (flow: Flow) => void = () => undefined,
    private readonly delayMs = 700,
    private readonly timers: Timers = browserTimers,
  ) {
    this.revision = revision;
    this.savedChange = store.getState().changeCount;
  }

  start(): void {
    this.unsubscribe = this.store.subscribe((state, previous) => {
      if (state.changeCount !== previous.changeCount) this.schedule();
    });
  }

  stop(): void {
    this.unsubscribe?.();
    if (this.timer !== null) this.timers.clear(this.timer);
  }

  get current(): SaveState {
    return this.state;
  }

  /** Whether leaving now would lose something. */
  hasUnsavedChanges(): boolean {
    return this.inFlight !== null || this.store.getState().changeCount !== this.savedChange;
  }

  private setState(state: SaveState): void {
    this.state = state;
    this.onState(state);
  }

  private schedule(delay = this.delayMs): void {
    if (this.state.kind === "conflict") return;
    if (this.store.getState().changeCount === this.savedChange) return;
    // "Saving…" and "Not saved: why" stay until the next save starts; only "Saved" goes.
    if (this.state.kind === "saved") this.setState({ kind: "dirty" });
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = this.timers.set(() => {
      this.timer = null;
      void this.flush();
    }, delay);
  }

  /** Save now (and wait for it); resolves once the draft on the server is what is on screen,
   * or the save failed (then `current` says why). */
  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight;
    if (this.state.kind === "conflict") return;
    const state = this.store.getState();
    const at = state.changeCount;
    if (at === this.savedChange) return;
    if (this.timer !== null) {
      this.timers.clear(this.timer);
      this.timer = null;
    }
    this.setState({ kind: "saving" });
    const run = async () => {
      try {
        const flow = await this.api.save(this.flowId, {
          revision: this.revision,
          ...state.settings,
          document: toDocument(state.nodes, state.edges),
        });
        this.revision = flow.revision;
        this.savedChange = at;
        this.retries = 0;
        this.onSaved(flow);
        const dirty = this.store.getState().changeCount !== at;
        this.setState(dirty ? { kind: "dirty" } : { kind: "saved" });
        void this.validate(at);
      } catch (error) {
        if (error instanceof ApiError && error.status === 409) {
          this.setState({ kind: "conflict", conflict: conflictOf(error) });
        } else if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
          this.setState({ kind: "error", message: error.message });
        } else {
          // The network or the server failed: try again, more slowly each time.
          this.retries += 1;
          const message = error instanceof Error ? error.message : String(error);
          this.setState({ kind: "error", message: `${message} Trying again…` });
          this.inFlight = null;
          this.schedule(Math.min(30_000, 1000 * 2 ** this.retries));
        }
      }
    };
    this.inFlight = run();
    try {
      await this.inFlight;
    } finally {
      this.inFlight = null;
    }
    if (this.state.kind === "dirty") this.schedule();
  }

  async validate(at = this.savedChange): Promise<void> {
    try {
      const result = await this.api.validate(this.flowId);
      this.store.getState().setServerProblems(result.problems, at);
    } catch {
      // Validation is advice; a failed call leaves the last problems shown.
    }
  }

  /** "Keep mine": save what is on screen over the newer revision. */
  async keepMine(): Promise<void> {
    if (this.state.kind !== "conflict") return;
    this.revision = this.state.conflict.currentRevision;
    this.setState({ kind: "dirty" });
    await this.flush();
  }

  /** "Load theirs": show the saved draft; the person's version stays one Undo away. */
  loadTheirs(flow: Flow): void {
    this.revision = flow.revision;
    this.store.getState().replaceDocument(flow.document, settingsOf(flow), true);
    this.savedChange = this.store.getState().changeCount;
    this.setState({ kind: "saved" });
    void this.validate(this.savedChange);
  }

  /** The server's draft changed by our own hand (restore): take it as saved. */
  adopt(flow: Flow, recordHistory: boolean): void {
    this.revision = flow.revision;
    this.store.getState().replaceDocument(flow.document, settingsOf(flow), recordHistory);
    this.savedChange = this.store.getState().changeCount;
    this.setState({ kind: "saved" });
    void this.validate(this.savedChange);
  }
}
