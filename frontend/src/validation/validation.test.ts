import { describe, expect, it } from "vitest";
import { BLOCKS_BY_TYPE, CASES, CATALOG, CURRENCIES } from "../test/fixtures";
import { blockProblems, type CheckContext } from "./client";
import { customNameProblems, eventFieldProblems, resolveEvent } from "./event";
import { pyLen, pyRepr } from "./pyrepr";
import { fieldPath, schemaProblems, templateProblems } from "./schema";

/** What the store's setCatalog builds from the catalog and the page's currencies. */
const ctx: CheckContext = {
  events: CATALOG.events,
  currencies: new Set(CURRENCIES.map(([code]) => code)),
  reserved: CATALOG.reserved,
};

/** The client's problems as the server writes them: no "data." prefix, only what it compares. */
function clientSays(type: string, data: Parameters<typeof blockProblems>[2]) {
  return blockProblems(BLOCKS_BY_TYPE[type], "n1", data, ctx).map((p) => ({
    field: p.field === "data" ? "" : p.field.replace(/^data\./, ""),
    message: p.message,
    code: p.code,
  }));
}

describe("client checks against the server's table of cases", () => {
  it("has cases of both kinds to run", () => {
    expect(CASES.filter((c) => c.exact).length).toBeGreaterThanOrEqual(20);
    expect(CASES.filter((c) => !c.exact).length).toBeGreaterThanOrEqual(3);
  });

  it.each(CASES.filter((c) => c.exact).map((c) => [c.name, c] as const))(
    "exactly as the server: %s",
    (_name, c) => {
      expect(clientSays(c.block, c.data)).toEqual(c.problems);
    },
  );

  it.each(CASES.filter((c) => !c.exact).map((c) => [c.name, c] as const))(
    "never a problem the server does not give: %s",
    (_name, c) => {
      const said = clientSays(c.block, c.data);
      for (const problem of said) expect(c.problems).toContainEqual(problem);
    },
  );

  it("shapes problems like the server's, pointing at the block", () => {
    const problems = blockProblems(BLOCKS_BY_TYPE.ask, "ask-1", { question: "Hi?" }, ctx);
    expect(problems).toEqual([
      {
        node_id: "ask-1",
        field: "data.variable",
        message: "“variable” is required: fill it in.",
        severity: "error",
        code: "required",
      },
    ]);
  });

  it("gives nothing for a block type the registry does not have", () => {
    expect(blockProblems(undefined, "x", { anything: 1 }, ctx)).toEqual([]);
  });
});

describe("event rules", () => {
  it("resolves an event by its key or either transport's name", () => {
    expect(resolveEvent(CATALOG.events, "purchase")?.key).toBe("purchase");
    expect(resolveEvent(CATALOG.events, "fb_mobile_purchase")?.key).toBe("purchase");
    expect(resolveEvent(CATALOG.events, "Purchase")?.key).toBe("purchase");
    expect(resolveEvent(CATALOG.events, "table_booked")).toBeNull();
  });

  it("refuses an internal SDK event name", () => {
    expect(customNameProblems(CATALOG.events, "fb_sdk_initialize", CATALOG.reserved)).toEqual([
      {
        field: "event",
        message:
          "fb_sdk_initialize is an event Facebook's SDKs log internally; it cannot be sent " +
          "from a bot. Pick a standard event or another custom name.",
        code: "reserved",
      },
    ]);
  });

  it("asks for a name when the event is only spaces", () => {
    expect(customNameProblems(CATALOG.events, "  ")).toEqual([
      {
        field: "event",
        message: "Name the event: pick a standard event, or type a custom event name.",
        code: "required",
      },
    ]);
  });

  it("does not ask for a currency for an event that takes a value but no currency", () => {
    const rate = resolveEvent(CATALOG.events, "rate");
    expect(eventFieldProblems({ value: 4 }, rate, ctx.currencies)).toEqual([]);
    const purchase = resolveEvent(CATALOG.events, "purchase");
    expect(eventFieldProblems({ value: 4 }, purchase, ctx.currencies).map((p) => p.code)).toEqual([
      "currency_required",
    ]);
  });

  it("accepts numbers written as Python's Decimal reads them, and no others", () => {
    const purchase = resolveEvent(CATALOG.events, "purchase");
    for (const value of ["49.90", " 1e3 ", "-.5", "+7."]) {
      expect(eventFieldProblems({ value, currency: "USD" }, purchase, ctx.currencies)).toEqual([]);
    }
    for (const value of ["1,5", "0x10", "1e", "."]) {
      expect(
        eventFieldProblems({ value, currency: "USD" }, purchase, ctx.currencies).map((p) => p.code),
      ).toEqual(["invalid_value"]);
    }
    expect(
      eventFieldProblems({ value: true, currency: "USD" }, purchase, ctx.currencies)[0]?.message,
    ).toBe("The value is a number, such as 49.90, not true/false (use 1 or 0).");
  });

  it("counts a parameter value's length in code points and leaves templates alone", () => {
    const long = "😀".repeat(100);
    expect(eventFieldProblems({ params: { note: long } }, null, ctx.currencies)).toEqual([]);
    expect(
      eventFieldProblems({ params: { note: long + "x" } }, null, ctx.currencies)[0]?.message,
    ).toBe("note: the value is 101 characters; Facebook takes at most 100. Shorten it.");
    const template = "{{answer}}" + "z".repeat(120);
    expect(eventFieldProblems({ params: { note: template } }, null, ctx.currencies)).toEqual([]);
  });

  it("refuses more than 25 parameters", () => {
    const params = Object.fromEntries(Array.from({ length: 27 }, (_, i) => [`k${i}`, "v"]));
    expect(eventFieldProblems({ params }, null, ctx.currencies)).toEqual([
      {
        field: "params",
        message: "27 parameters is too many: Facebook takes at most 25 an event. Remove 2.",
        code: "too_many",
      },
    ]);
  });
});

describe("schema interpreter", () => {
  it("writes paths as the server does", () => {
    expect(fieldPath(["quick_replies", 0, "title"])).toBe("quick_replies[0].title");
    expect(fieldPath([2, "a"])).toBe("[2].a");
    expect(fieldPath([])).toBe("");
  });

  it("sorts problems by field, then code", () => {
    const problems = schemaProblems(
      {
        type: "object",
        required: ["b"],
        properties: { a: { type: "string", minLength: 3, maxLength: 1, pattern: "^x$" } },
      },
      { a: "yy" },
    );
    expect(problems.map((p) => [p.field, p.code])).toEqual([
      ["a", "invalid_format"],
      ["a", "too_long"],
      ["a", "too_short"],
      ["b", "required"],
    ]);
  });

  it("checks numbers' bounds and types", () => {
    const schema = { type: "integer", minimum: 1, maximum: 3 };
    expect(schemaProblems(schema, 0)).toEqual([
      { field: "", message: "Must be at least 1.", code: "out_of_range" },
    ]);
    expect(schemaProblems(schema, 2.5)).toEqual([
      { field: "", message: "Must be a integer.", code: "wrong_type" },
    ]);
    expect(schemaProblems({ type: ["string", "number"] }, true)).toEqual([
      { field: "", message: "Must be a string or number.", code: "wrong_type" },
    ]);
  });

  it("checks additional properties against their schema", () => {
    const schema = { type: "object", additionalProperties: { type: ["string", "number"] } };
    expect(schemaProblems(schema, { a: "1", b: [1] })).toEqual([
      { field: "b", message: "Must be a string or number.", code: "wrong_type" },
    ]);
  });

  it("finds malformed placeholders anywhere in the data, and only those", () => {
    expect(templateProblems({ a: ["ok {{x}}", "bad {{1x}}"], b: { c: "}}" } })).toEqual([
      expect.objectContaining({ field: "a[1]", code: "bad_placeholder" }),
      expect.objectContaining({ field: "b.c", code: "bad_placeholder" }),
    ]);
    expect(templateProblems({ a: "{{ spaced }} and {{_under9}}" })).toEqual([]);
  });
});

describe("pyRepr and pyLen, as Python's repr() and len()", () => {
  it.each([
    ["plain", "'plain'"],
    ["it's", `"it's"`],
    [`say "hi"`, `'say "hi"'`],
    [`it's "both"`, `'it\\'s "both"'`],
    ["back\\slash", "'back\\\\slash'"],
    ["line\nbreak\r\ttab", "'line\\nbreak\\r\\ttab'"],
    ["bell\u0007del\u007f", "'bell\\x07del\\x7f'"],
    ["", "''"],
    ["café 😀", "'café 😀'"],
  ])("repr(%j) is %s", (text, repr) => {
    expect(pyRepr(text)).toBe(repr);
  });

  it("counts code points, not UTF-16 units", () => {
    expect(pyLen("😀")).toBe(1);
    expect("😀".length).toBe(2);
    expect(pyLen("a😀b\n")).toBe(4);
    expect(pyLen("")).toBe(0);
    expect(pyLen("e\u0301")).toBe(2);
  });
});
