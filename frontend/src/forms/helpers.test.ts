import { describe, expect, it } from "vitest";
import { CATALOG } from "../test/fixtures";
import { CUSTOM, filterOptions } from "./EventPicker";
import { eventMode } from "./LogEventForm";
import { insertVariable, typedVariable } from "./TemplateInput";

describe("typedVariable", () => {
  it.each([
    ["Hi {{", 5, ""],
    ["Hi {{na", 7, "na"],
    ["Hi {{  na", 9, "na"],
    ["Hi {{na}} and more", 7, "na"],
    ["{{a_1", 5, "a_1"],
  ])("in %j at %i is %j", (text, caret, typed) => {
    expect(typedVariable(text, caret)).toBe(typed);
  });

  it.each([
    ["Hi {{name}}", 11],
    ["Hi {{first name", 15],
    ["Hi {", 4],
    ["Hi {{na", 3],
    ["", 0],
  ])("in %j at %i is nothing", (text, caret) => {
    expect(typedVariable(text, caret)).toBeNull();
  });
});

describe("insertVariable", () => {
  it("completes the partial name at the caret and puts the caret after it", () => {
    expect(insertVariable("Hi {{na", 7, "name")).toEqual(["Hi {{name}}", 11]);
    expect(insertVariable("Hi {{ na", 8, "name")).toEqual(["Hi {{name}}", 11]);
  });

  it("replaces the rest of a name already closed after the caret", () => {
    expect(insertVariable("Hi {{na}} there", 7, "name")).toEqual(["Hi {{name}} there", 11]);
    expect(insertVariable("Hi {{nam|e}}!".replace("|", ""), 8, "name")).toEqual([
      "Hi {{name}}!",
      11,
    ]);
  });

  it("leaves text after the caret that does not close the name", () => {
    expect(insertVariable("Hi {{na rest", 7, "name")).toEqual(["Hi {{name}} rest", 11]);
  });

  it("inserts a whole placeholder where nothing was opened", () => {
    expect(insertVariable("Total: ", 7, "total")).toEqual(["Total: {{total}}", 16]);
    expect(insertVariable("ab", 1, "x")).toEqual(["a{{x}}b", 6]);
  });
});

describe("filterOptions", () => {
  const events = CATALOG.events;
  const values = (transport: string, query: string, custom: string | null = null) =>
    filterOptions(events, transport, query, custom).map((o) => o.value);

  it("offers only the events the transport carries, in catalog order", () => {
    const carried = events.filter((e) => e.names.page_activities).map((e) => e.key);
    expect(values("page_activities", "")).toEqual(carried);
    expect(carried).not.toContain("qualified_lead");
    expect(values("conversions_api", "")).toContain("qualified_lead");
    expect(values("conversions_api", "")).not.toContain("contact");
  });

  it("shows each event's label, the transport's own name for it and its category", () => {
    expect(filterOptions(events, "conversions_api", "purchase", null)).toEqual([
      { value: "purchase", label: "Purchase", detail: "Purchase", category: "Shopping" },
    ]);
    expect(filterOptions(events, "page_activities", "purchase", null)).toEqual([
      { value: "purchase", label: "Purchase", detail: "fb_mobile_purchase", category: "Shopping" },
    ]);
  });

  it("finds by label, case and surrounding spaces aside", () => {
    expect(values("page_activities", "  WISHLIST ")).toEqual(["add_to_wishlist"]);
    expect(values("page_activities", "booked")).toEqual(["schedule"]);
  });

  it("finds by either transport's name for the event", () => {
    expect(values("page_activities", "fb_mobile_content_view")).toEqual(["view_content"]);
    expect(values("page_activities", "ViewContent")).toEqual(["view_content"]);
    expect(values("conversions_api", "fb_mobile_add_to_cart")).toEqual(["add_to_cart"]);
    expect(values("conversions_api", "ratingprovided")).toEqual(["rate"]);
  });

  it("finds by category", () => {
    expect(values("conversions_api", "orders")).toEqual([
      "order_created",
      "order_shipped",
      "order_delivered",
      "order_canceled",
      "order_returned",
    ]);
    expect(values("page_activities", "in-app")).toEqual(["ad_impression", "ad_click"]);
  });

  it("puts Custom event… last when given, whatever the search", () => {
    expect(values("page_activities", "purchase", "Custom event…")).toEqual(["purchase", CUSTOM]);
    expect(values("page_activities", "nothing like this", "Custom event…")).toEqual([CUSTOM]);
    const all = filterOptions(events, "page_activities", "", "Custom event…");
    expect(all[all.length - 1]).toEqual({
      value: CUSTOM,
      label: "Custom event…",
      detail: "",
      category: "Your own",
    });
    expect(values("conversions_api", "nothing like this")).toEqual([]);
  });
});

describe("eventMode", () => {
  const events = CATALOG.events;

  it("is nothing until an event is named or Custom event… chosen", () => {
    expect(eventMode(events, "", false)).toEqual({ kind: "none" });
    expect(eventMode(events, "", true)).toEqual({ kind: "custom" });
  });

  it("is the standard event a key or either transport's name names", () => {
    for (const name of ["purchase", "fb_mobile_purchase", "Purchase"]) {
      const mode = eventMode(events, name, false);
      expect(mode.kind === "standard" && mode.event.key).toBe("purchase");
    }
    const chosen = eventMode(events, "lead_submitted", true);
    expect(chosen.kind === "standard" && chosen.event.key).toBe("lead_submitted");
  });

  it("is custom for any other name", () => {
    expect(eventMode(events, "table_booked", false)).toEqual({ kind: "custom" });
    expect(eventMode(events, "PURCHASE", false)).toEqual({ kind: "custom" });
  });
});
