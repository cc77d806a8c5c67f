/** Whether the editor shows its phone view: read-only, an outline beside a canvas that fits
 * (docs/adr/0008-flow-editor.md). One media query decides, and it is decided again when the
 * window is resized or the phone turned. */

import { useSyncExternalStore } from "react";

export const PHONE_MEDIA = "(max-width: 640px)";

interface MediaList {
  readonly matches: boolean;
  addEventListener(type: "change", listener: () => void): void;
  removeEventListener(type: "change", listener: () => void): void;
}

/** `subscribe` and `snapshot` for useSyncExternalStore over one media query list. */
export function mediaSource(list: MediaList | null) {
  return {
    subscribe(onChange: () => void) {
      list?.addEventListener("change", onChange);
      return () => list?.removeEventListener("change", onChange);
    },
    snapshot: () => list?.matches ?? false,
  };
}

const source = mediaSource(
  typeof window !== "undefined" && typeof window.matchMedia === "function"
    ? window.matchMedia(PHONE_MEDIA)
    : null,
);

export function usePhone(): boolean {
  return useSyncExternalStore(source.subscribe, source.snapshot, () => false);
}
