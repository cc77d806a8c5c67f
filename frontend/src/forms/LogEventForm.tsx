/** The log-event block's own form, the guide's "draggable block that lets people choose an
 * event and define additional parameters": a searchable dropdown of Facebook's standard events
 * for the Page's transport, the chosen event's standard parameters as typed fields, value and
 * currency where the event takes them, or a custom event with a name checked as it is typed
 * and parameters of the person's own. */

import { useState } from "react";
import type { BlockFormProps } from "../components/Inspector";
import { useEditor } from "../store/editor";
import type { CatalogEvent, CatalogParam, Json, JsonObject, Problem } from "../types";
import { resolveEvent } from "../validation/event";
import { CUSTOM, EventPicker } from "./EventPicker";
import { FieldProblems, KeyValueRows } from "./SchemaForm";
import { asText, without } from "./schemaForm";
import { TemplateInput } from "./TemplateInput";

export const TRANSPORT_NAMES: Record<string, string> = {
  conversions_api: "Conversions API",
  page_activities: "Events API (page_activities)",
};

function at(problems: readonly Problem[], field: string): Problem[] {
  return problems.filter((p) => p.field === `data.${field}`);
}

function paramsOf(data: JsonObject): JsonObject {
  const params = data.params;
  return params && typeof params === "object" && !Array.isArray(params) ? params : {};
}

/** What the form shows: a standard event, a custom one, or nothing chosen yet. */
export function eventMode(
  events: readonly CatalogEvent[],
  event: string,
  customChosen: boolean,
): { kind: "none" } | { kind: "standard"; event: CatalogEvent } | { kind: "custom" } {
  const found = event ? resolveEvent(events, event) : null;
  if (found) return { kind: "standard", event: found };
  if (event || customChosen) return { kind: "custom" };
  return { kind: "none" };
}

function ParamField({
  param,
  value,
  onChange,
  ctx,
  problems,
}: {
  param: CatalogParam;
  value: Json | undefined;
  onChange: (value: string) => void;
  ctx: BlockFormProps["ctx"];
  problems: Problem[];
}) {
  const id = `f-${ctx.nodeId}-param-${param.key}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const help = [param.description ? `${id}-help` : "", problems.length ? `${id}-problems` : ""]
    .filter(Boolean)
    .join(" ");
  const options =
    param.type === "flag"
      ? [
          { value: "1", label: "Yes (1)" },
          { value: "0", label: "No (0)" },
        ]
      : param.choices.map((c) => ({ value: c, label: c }));
  return (
    <div className={`field${problems.length ? " field-invalid" : ""}`}>
      <label htmlFor={id}>
        {param.label}
        {param.requirement === "required" && (
          <span className="required" aria-hidden="true">
            {" "}
            *
          </span>
        )}{" "}
        <code className="muted small">{param.key}</code>
      </label>
      {options.length ? (
        <select
          id={id}
          value={asText(value)}
          disabled={ctx.disabled}
          aria-describedby={help || undefined}
          aria-invalid={problems.length > 0 || undefined}
          onChange={(e) => onChange(e.target.value)}
        >
          <option value="">Not set</option>
          {options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      ) : (
        <TemplateInput
          id={id}
          value={asText(value)}
          onChange={onChange}
          variables={ctx.variables}
          multiline={param.type === "json"}
          disabled={ctx.disabled}
          invalid={problems.length > 0}
          describedBy={help || undefined}
          placeholder={param.type === "number" ? "e.g. 49.90 or {{total}}" : "Text or {{variable}}"}
        />
      )}
      {param.description && (
        <p className="field-help" id={`${id}-help`}>
          {param.description}
        </p>
      )}
      <FieldProblems id={`${id}-problems`} problems={problems} />
    </div>
  );
}

export function LogEventForm({ data, onChange, ctx }: BlockFormProps) {
  const catalog = useEditor((s) => s.catalog);
  const [customChosen, setCustomChosen] = useState(false);
  if (!catalog) return <p className="muted">Loading the event catalog…</p>;
  const { transport, all, forTransport, currencies } = catalog;
  const transportInfo = forTransport.transports.find((t) => t.key === transport);
  const customAllowed = transportInfo?.custom_events_allowed ?? true;
  const event = typeof data.event === "string" ? data.event : "";
  const mode = eventMode(all, event, customChosen);
  const params = paramsOf(data);
  const set = (change: JsonObject, key: string) => onChange({ ...data, ...change }, key);
  const setParam = (key: string, value: string) => {
    const next = value === "" ? without(params, key) : { ...params, [key]: value };
    set({ params: next }, `params.${key}`);
  };
  const transportName = TRANSPORT_NAMES[transport] ?? transport;
  const pickerId = `f-${ctx.nodeId}-event`;
  const eventProblems = at(ctx.problems, "event");
  const standard = mode.kind === "standard" ? mode.event : null;
  const carried = standard ? Boolean(standard.names[transport]) : true;
  const standardParams = standard
    ? standard.params.filter((p) => p.transports.includes(transport))
    : [];
  const standardKeys = new Set(standardParams.map((p) => p.key));
  const takesValue = standard ? standard.takes_value : mode.kind === "custom";
  const takesCurrency = standard ? standard.takes_currency : mode.kind === "custom";
  const customNote =
    transportInfo?.custom_events_message ??
    `The ${transportName} takes only its standard events: a custom event cannot reach ` +
      "Ads Manager from this Page. Pick a standard event instead.";
  const retired = transportInfo?.status?.state === "retired" ? transportInfo.status : null;

  return (
    <div className="schema-form log-event-form">
      {retired && (
        <p className="notice-inline warning" role="note">
          {retired.message}
        </p>
      )}
      <div className={`field${eventProblems.length ? " field-invalid" : ""}`}>
        <label htmlFor={pickerId}>
          Event
          <span className="required" aria-hidden="true">
            {" "}
            *
          </span>
        </label>
        <EventPicker
          id={pickerId}
          events={forTransport.events.length ? forTransport.events : all}
          transport={transport}
          value={mode.kind === "custom" ? CUSTOM : event}
          displayLabel={standard ? standard.label : mode.kind === "custom" ? "Custom event…" : ""}
          customLabel="Custom event…"
          disabled={ctx.disabled}
          invalid={eventProblems.length > 0}
          describedBy={`${pickerId}-help`}
          onPick={(value) => {
            if (value === CUSTOM) {
              setCustomChosen(true);
              if (standard) set({ event: "" }, "event");
            } else {
              setCustomChosen(false);
              set({ event: value }, "event");
            }
          }}
        />
        <p className="field-help" id={`${pickerId}-help`}>
          {standard
            ? `${standard.description} Sent as ${standard.names[transport] ?? "—"} through the ${transportName}.`
            : `Facebook’s standard events for this Page’s ${transportName}, or a custom event.`}
        </p>
        {standard && !carried && (
          <p className="notice-inline warning">
            {standard.label} cannot be sent through the {transportName}: pick another event.
          </p>
        )}
        {mode.kind === "custom" && !customAllowed && (
          <p className="notice-inline warning" role="note">
            {customNote}
          </p>
        )}
        {mode.kind !== "custom" && (
          <FieldProblems id={`${pickerId}-problems`} problems={eventProblems} />
        )}
      </div>

      {mode.kind === "custom" && (
        <div className={`field${eventProblems.length ? " field-invalid" : ""}`}>
          <label htmlFor={`${pickerId}-custom`}>
            Custom event name
            <span className="required" aria-hidden="true">
              {" "}
              *
            </span>
          </label>
          <input
            id={`${pickerId}-custom`}
            type="text"
            value={event}
            disabled={ctx.disabled}
            aria-invalid={eventProblems.length > 0 || undefined}
            aria-describedby={`${pickerId}-custom-help ${pickerId}-problems`}
            placeholder="e.g. table_booked"
            onChange={(e) => set({ event: e.target.value }, "event")}
          />
          <p className="field-help" id={`${pickerId}-custom-help`}>
            Up to 40 letters, digits, _, - and spaces; not starting with a space or hyphen.
          </p>
          <FieldProblems id={`${pickerId}-problems`} problems={eventProblems} />
        </div>
      )}

      {standardParams.length > 0 && (
        <fieldset className="field">
          <legend>{standard?.label} parameters</legend>
          {standardParams.map((param) => (
            <ParamField
              key={param.key}
              param={param}
              value={params[param.key]}
              ctx={ctx}
              problems={at(ctx.problems, `params.${param.key}`)}
              onChange={(value) => setParam(param.key, value)}
            />
          ))}
        </fieldset>
      )}

      {mode.kind !== "none" && (
        <KeyValueRows
          title={standard ? "More parameters" : "Parameters"}
          path="params"
          value={params}
          hidden={standardKeys}
          ctx={ctx}
          onChange={(next) => set({ params: next }, "params")}
        />
      )}

      {takesValue && (
        <div className={`field${at(ctx.problems, "value").length ? " field-invalid" : ""}`}>
          <label htmlFor={`${pickerId}-value`}>Value</label>
          <TemplateInput
            id={`${pickerId}-value`}
            value={asText(data.value)}
            variables={ctx.variables}
            disabled={ctx.disabled}
            invalid={at(ctx.problems, "value").length > 0}
            describedBy={`${pickerId}-value-help`}
            placeholder="e.g. 49.90 or {{order_total}}"
            onChange={(text) => set({ value: text === "" ? null : text }, "value")}
          />
          <p className="field-help" id={`${pickerId}-value-help`}>
            An amount Ads Manager adds up{takesCurrency ? ", in the currency below" : ""}.
          </p>
          <FieldProblems id={`${pickerId}-value-problems`} problems={at(ctx.problems, "value")} />
        </div>
      )}
      {takesCurrency && (
        <div className={`field${at(ctx.problems, "currency").length ? " field-invalid" : ""}`}>
          <label htmlFor={`${pickerId}-currency`}>Currency</label>
          <select
            id={`${pickerId}-currency`}
            value={typeof data.currency === "string" ? data.currency : ""}
            disabled={ctx.disabled}
            aria-invalid={at(ctx.problems, "currency").length > 0 || undefined}
            onChange={(e) => set({ currency: e.target.value }, "currency")}
          >
            <option value="">No currency</option>
            {currencies.map(([code, name]) => (
              <option key={code} value={code}>
                {code} · {name}
              </option>
            ))}
          </select>
          <FieldProblems
            id={`${pickerId}-currency-problems`}
            problems={at(ctx.problems, "currency")}
          />
        </div>
      )}
      {transport === "page_activities" && mode.kind !== "none" && (
        <div className="field">
          <label htmlFor={`${pickerId}-target`}>Log to</label>
          <select
            id={`${pickerId}-target`}
            value={
              typeof data.logging_target === "string" && data.logging_target
                ? data.logging_target
                : "page"
            }
            disabled={ctx.disabled}
            onChange={(e) => set({ logging_target: e.target.value }, "logging_target")}
          >
            <option value="page">The Page (shows in the business’s Ads Manager)</option>
            <option value="app_and_page">The app and the Page</option>
            <option value="app">The app only</option>
          </select>
          <FieldProblems
            id={`${pickerId}-target-problems`}
            problems={at(ctx.problems, "logging_target")}
          />
        </div>
      )}
    </div>
  );
}
