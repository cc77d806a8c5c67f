import { describe, expect, it } from "vitest";
import { PHONE_MEDIA, mediaSource } from "./phone";

class FakeMediaList {
  matches = false;
  listeners = new Set<() => void>();
  addEventListener(_type: "change", listener: () => void) {
    this.listeners.add(listener);
  }
  removeEventListener(_type: "change", listener: () => void) {
    this.listeners.delete(listener);
  }
  turn(matches: boolean) {
    this.matches = matches;
    for (const listener of this.listeners) listener();
  }
}

describe("the phone view's decision", () => {
  it("is one media query on the width", () => {
    expect(PHONE_MEDIA).toBe("(max-width: 640px)");
  });

  it("follows the media query as the window changes, and stops listening when asked", () => {
    const list = new FakeMediaList();
    const source = mediaSource(list);
    const seen: boolean[] = [];
    const unsubscribe = source.subscribe(() => seen.push(source.snapshot()));
    expect(source.snapshot()).toBe(false);
    list.turn(true);
    list.turn(false);
    expect(seen).toEqual([true, false]);
    unsubscribe();
    list.turn(true);
    expect(seen).toEqual([true, false]);
    expect(list.listeners.size).toBe(0);
  });

  it("is never the phone view where there is no window to ask (rendering outside a browser)", () => {
    const source = mediaSource(null);
    const unsubscribe = source.subscribe(() => undefined);
    expect(source.snapshot()).toBe(false);
    unsubscribe();
  });
});
