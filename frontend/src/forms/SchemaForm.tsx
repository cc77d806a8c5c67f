/** Renders a block's settings form from its field specs (forms/schemaForm.ts). Every control
 * has a label; problems show under the field they are about, in the server's words. */

import { useState, type ReactNode } from "react";
import { newItemId } from "../graph/ops";
import type { Json, JsonObject, Problem } from "../types";
import { asText, newItem, without, type FieldSpec } from "./schemaForm";
import { TemplateInput } from "./TemplateInput";

export interface FormContext {
  nodeId: string;
  problems: readonly Problem[];
  disabled: boolean;
  variables: readonly string[];
}

function domId(nodeId: string, path: string): string {
  return `f-${nodeId}-${path}`.replace(/[^A-Za-z0-9_-]/g, "_");
}

function problemsAt(ctx: FormContext, path: string): Problem[] {
  const field = `data.${path}`;
  return ctx.problems.filter((p) => p.field === field);
}

export function FieldProblems({ id, problems }: { id: string; problems: readonly Problem[] }) {
  if (!problems.length) return null;
  return (
    <ul className="field-problems" id={id}>
      {problems.map((p, i) => (
        <li key={i} className={p.severity === "error" ? "error" : "warning"}>
          {p.message}
        </li>
      ))}
    </ul>
  );
}

interface FieldProps {
  spec: FieldSpec;
  path: string;
  value: Json | undefined;
  onChange: (value: Json | undefined) => void;
  ctx: FormContext;
}

function Described({
  spec,
  id,
  problems,
  children,
}: {
  spec: FieldSpec;
  id: string;
  problems: readonly Problem[];
  children: ReactNode;
}) {
  return (
    <div className={`field field-${spec.kind}${problems.length ? " field-invalid" : ""}`}>
      <label htmlFor={id}>
        {spec.label}
        {spec.required && (
          <span className="required" aria-hidden="true">
            {" "}
            *
          </span>
        )}
      </label>
      {children}
      {spec.description && (
        <p className="field-help" id={`${id}-help`}>
          {spec.description}
        </p>
      )}
      <FieldProblems id={`${id}-problems`} problems={problems} />
    </div>
  );
}

function describedBy(
  spec: FieldSpec,
  id: string,
  problems: readonly Problem[],
): string | undefined {
  const ids = [spec.description ? `${id}-help` : "", problems.length ? `${id}-problems` : ""];
  return ids.filter(Boolean).join(" ") || undefined;
}

function Field({ spec, path, value, onChange, ctx }: FieldProps) {
  const id = domId(ctx.nodeId, path);
  const problems = problemsAt(ctx, path);
  const help = describedBy(spec, id, problems);
  switch (spec.kind) {
    case "text":
      return (
        <Described spec={spec} id={id} problems={problems}>
          {spec.template ? (
            <TemplateInput
              id={id}
              value={asText(value)}
              onChange={(text) => onChange(text === "" && spec.nullable ? null : text)}
              variables={ctx.variables}
              multiline={spec.multiline}
              disabled={ctx.disabled}
              invalid={problems.length > 0}
              describedBy={help}
              required={spec.required}
            />
          ) : (
            <input
              id={id}
              type="text"
              value={asText(value)}
              disabled={ctx.disabled}
              required={spec.required}
              aria-invalid={problems.length > 0 || undefined}
              aria-describedby={help}
              list={spec.variableName ? `${id}-variables` : undefined}
              autoComplete="off"
              onChange={(e) =>
                onChange(e.target.value === "" && spec.nullable ? null : e.target.value)
              }
            />
          )}
          {spec.variableName && (
            <datalist id={`${id}-variables`}>
              {ctx.variables.map((v) => (
                <option key={v} value={v} />
              ))}
            </datalist>
          )}
        </Described>
      );
    case "number":
      return (
        <Described spec={spec} id={id} problems={problems}>
          <input
            id={id}
            type="number"
            step={spec.integer ? 1 : "any"}
            min={spec.minimum ?? undefined}
            max={spec.maximum ?? undefined}
            value={typeof value === "number" ? value : ""}
            disabled={ctx.disabled}
            aria-invalid={problems.length > 0 || undefined}
            aria-describedby={help}
            onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))}
          />
        </Described>
      );
    case "select":
      return (
        <Described spec={spec} id={id} problems={problems}>
          <select
            id={id}
            value={asText(value)}
            disabled={ctx.disabled}
            aria-invalid={problems.length > 0 || undefined}
            aria-describedby={help}
            onChange={(e) => onChange(e.target.value)}
          >
            {(spec.placeholder || value === undefined || value === "") && (
              <option value="">Choose…</option>
            )}
            {spec.options.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        </Described>
      );
    case "checkbox":
      return (
        <div className="field field-checkbox">
          <label>
            <input
              type="checkbox"
              checked={value === true}
              disabled={ctx.disabled}
              onChange={(e) => onChange(e.target.checked)}
            />{" "}
            {spec.label}
          </label>
          <FieldProblems id={`${id}-problems`} problems={problems} />
        </div>
      );
    case "list":
      return <ListField spec={spec} path={path} value={value} onChange={onChange} ctx={ctx} />;
    case "keyvalue":
      return <KeyValueField spec={spec} path={path} value={value} onChange={onChange} ctx={ctx} />;
    case "json":
      return <JsonField spec={spec} path={path} value={value} onChange={onChange} ctx={ctx} />;
  }
}

function ListField({
  spec,
  path,
  value,
  onChange,
  ctx,
}: FieldProps & { spec: Extract<FieldSpec, { kind: "list" }> }) {
  const items = Array.isArray(value) ? value : [];
  const id = domId(ctx.nodeId, path);
  const problems = problemsAt(ctx, path);
  const full = spec.maxItems !== null && items.length >= spec.maxItems;
  const set = (next: Json[]) => onChange(next);
  const add = () => {
    const taken = new Set(
      items.map((item) =>
        item && typeof item === "object" && !Array.isArray(item) && typeof item.id === "string"
          ? item.id
          : "",
      ),
    );
    set([...items, newItem(spec, spec.withIds ? newItemId(taken) : null)]);
  };
  const move = (from: number, to: number) => {
    const next = [...items];
    const [item] = next.splice(from, 1);
    if (item !== undefined) next.splice(to, 0, item);
    set(next);
  };
  return (
    <fieldset
      className="field field-list"
      aria-describedby={spec.description ? `${id}-help` : undefined}
    >
      <legend>{spec.label}</legend>
      {spec.description && (
        <p className="field-help" id={`${id}-help`}>
          {spec.description}
        </p>
      )}
      <FieldProblems id={`${id}-problems`} problems={problems} />
      {items.map((item, index) => {
        const object: JsonObject =
          item && typeof item === "object" && !Array.isArray(item) ? item : {};
        const name = `${spec.itemLabel} ${index + 1}`;
        return (
          <fieldset className="list-item" key={typeof object.id === "string" ? object.id : index}>
            <legend>{name}</legend>
            {spec.itemFields.map((sub) => (
              <Field
                key={sub.key}
                spec={sub}
                path={`${path}[${index}].${sub.key}`}
                value={object[sub.key]}
                ctx={ctx}
                onChange={(v) => {
                  const nextItem =
                    v === undefined ? without(object, sub.key) : { ...object, [sub.key]: v };
                  set(items.map((it, i) => (i === index ? nextItem : it)));
                }}
              />
            ))}
            {!ctx.disabled && (
              <div className="list-item-actions">
                <button
                  type="button"
                  className="small"
                  disabled={index === 0}
                  onClick={() => move(index, index - 1)}
                  aria-label={`Move ${name} up`}
                >
                  ↑
                </button>
                <button
                  type="button"
                  className="small"
                  disabled={index === items.length - 1}
                  onClick={() => move(index, index + 1)}
                  aria-label={`Move ${name} down`}
                >
                  ↓
                </button>
                <button
                  type="button"
                  className="small danger-link"
                  onClick={() => set(items.filter((_, i) => i !== index))}
                  aria-label={`Remove ${name}`}
                >
                  Remove
                </button>
              </div>
            )}
          </fieldset>
        );
      })}
      {!ctx.disabled && (
        <button type="button" className="small" onClick={add} disabled={full}>
          Add {spec.itemLabel.toLowerCase()}
        </button>
      )}
    </fieldset>
  );
}

/** Key/value rows (an event's parameters): each key unique, each value text or {{variable}}.
 * `hidden` keys are kept as they are but not listed (a form that shows them elsewhere). */
export function KeyValueRows({
  title,
  description,
  path,
  value,
  hidden = new Set<string>(),
  onChange,
  ctx,
}: {
  title: string;
  description?: string;
  path: string;
  value: Json | undefined;
  hidden?: ReadonlySet<string>;
  onChange: (value: JsonObject) => void;
  ctx: FormContext;
}) {
  const all: [string, Json][] =
    value && typeof value === "object" && !Array.isArray(value) ? Object.entries(value) : [];
  const kept = all.filter(([key]) => hidden.has(key));
  const entries = all.filter(([key]) => !hidden.has(key));
  const id = domId(ctx.nodeId, path);
  const [clash, setClash] = useState<number | null>(null);
  const set = (next: [string, Json][]) => onChange(Object.fromEntries([...kept, ...next]));
  const add = () => {
    const taken = new Set(all.map(([k]) => k));
    let n = entries.length + 1;
    while (taken.has(`param_${n}`)) n += 1;
    set([...entries, [`param_${n}`, ""]]);
  };
  return (
    <fieldset className="field field-keyvalue">
      <legend>{title}</legend>
      {description && <p className="field-help">{description}</p>}
      <FieldProblems id={`${id}-problems`} problems={problemsAt(ctx, path)} />
      {entries.length === 0 && <p className="muted small">None.</p>}
      {entries.map(([key, item], index) => {
        const rowProblems = problemsAt(ctx, `${path}.${key}`);
        return (
          <div className="kv-row" key={index}>
            <input
              type="text"
              aria-label={`Parameter ${index + 1} name`}
              value={key}
              disabled={ctx.disabled}
              onChange={(e) => {
                const next = e.target.value;
                if (all.some(([k]) => k === next && k !== key)) {
                  setClash(index);
                  return;
                }
                setClash(null);
                set(entries.map((entry, i) => (i === index ? [next, entry[1]] : entry)));
              }}
            />
            <TemplateInput
              id={`${id}-v${index}`}
              value={asText(item)}
              variables={ctx.variables}
              disabled={ctx.disabled}
              invalid={rowProblems.length > 0}
              describedBy={rowProblems.length ? `${id}-p${index}` : undefined}
              onChange={(text) =>
                set(entries.map((entry, i) => (i === index ? [entry[0], text] : entry)))
              }
              placeholder="Value or {{variable}}"
            />
            {!ctx.disabled && (
              <button
                type="button"
                className="small danger-link"
                aria-label={`Remove parameter ${key || index + 1}`}
                onClick={() => set(entries.filter((_, i) => i !== index))}
              >
                Remove
              </button>
            )}
            {clash === index && (
              <p className="field-problems error">Another parameter already has this name.</p>
            )}
            <FieldProblems id={`${id}-p${index}`} problems={rowProblems} />
          </div>
        );
      })}
      {!ctx.disabled && (
        <button type="button" className="small" onClick={add}>
          Add parameter
        </button>
      )}
    </fieldset>
  );
}

function KeyValueField({ spec, path, value, onChange, ctx }: FieldProps) {
  return (
    <KeyValueRows
      title={spec.label}
      description={spec.description}
      path={path}
      value={value}
      onChange={onChange}
      ctx={ctx}
    />
  );
}

function JsonField({ spec, path, value, onChange, ctx }: FieldProps) {
  const id = domId(ctx.nodeId, path);
  const [text, setText] = useState(() => JSON.stringify(value ?? null, null, 2));
  const [error, setError] = useState("");
  return (
    <Described spec={spec} id={id} problems={problemsAt(ctx, path)}>
      <textarea
        id={id}
        rows={4}
        value={text}
        disabled={ctx.disabled}
        onChange={(e) => setText(e.target.value)}
        onBlur={() => {
          try {
            onChange(JSON.parse(text) as Json);
            setError("");
          } catch {
            setError("This is not valid JSON.");
          }
        }}
      />
      {error && <p className="field-problems error">{error}</p>}
    </Described>
  );
}

/** The whole form of one block. */
export function SchemaForm({
  fields,
  value,
  onChange,
  ctx,
}: {
  fields: readonly FieldSpec[];
  value: JsonObject;
  onChange: (value: JsonObject, key: string) => void;
  ctx: FormContext;
}) {
  return (
    <div className="schema-form">
      {fields.map((spec) => (
        <Field
          key={spec.key}
          spec={spec}
          path={spec.path}
          value={value[spec.key]}
          ctx={ctx}
          onChange={(v) => {
            const next = v === undefined ? without(value, spec.key) : { ...value, [spec.key]: v };
            onChange(next, spec.path);
          }}
        />
      ))}
    </div>
  );
}
