/** An undo history of immutable snapshots. Consecutive edits with the same `key` (typing in
 * one field) within `coalesceMs` are one step, so Undo takes back a word, not a letter. */

export interface History<T> {
  past: T[];
  future: T[];
  lastKey: string | null;
  lastAt: number;
}

export const LIMIT = 200;

export function emptyHistory<T>(): History<T> {
  return { past: [], future: [], lastKey: null, lastAt: 0 };
}

/** Record `current` (the state before a change) so that Undo can return to it. */
export function record<T>(
  history: History<T>,
  current: T,
  now: number,
  key: string | null = null,
  coalesceMs = 1000,
): History<T> {
  if (key !== null && key === history.lastKey && now - history.lastAt < coalesceMs) {
    return { ...history, future: [], lastAt: now };
  }
  const past = [...history.past, current];
  return {
    past: past.length > LIMIT ? past.slice(past.length - LIMIT) : past,
    future: [],
    lastKey: key,
    lastAt: now,
  };
}

export function undo<T>(history: History<T>, current: T): { history: History<T>; state: T } | null {
  const state = history.past[history.past.length - 1];
  if (state === undefined) return null;
  return {
    state,
    history: {
      past: history.past.slice(0, -1),
      future: [current, ...history.future],
      lastKey: null,
      lastAt: 0,
    },
  };
}

export function redo<T>(history: History<T>, current: T): { history: History<T>; state: T } | null {
  const state = history.future[0];
  if (state === undefined) return null;
  return {
    state,
    history: {
      past: [...history.past, current],
      future: history.future.slice(1),
      lastKey: null,
      lastAt: 0,
    },
  };
}
