/** The "Event" dropdown: Facebook's standard events in plain words, grouped by category, with
 * the transport's own name small beside each, searchable by typing; and "Custom event…". */

import { useId, useMemo, useRef, useState, type KeyboardEvent } from "react";
import type { CatalogEvent } from "../types";

export const CUSTOM = "__custom__";

export interface PickerOption {
  value: string;
  label: string;
  detail: string;
  category: string;
}

/** The options a search leaves, in catalog order, with "Custom event…" last when allowed. */
export function filterOptions(
  events: readonly CatalogEvent[],
  transport: string,
  query: string,
  customLabel: string | null,
): PickerOption[] {
  const q = query.trim().toLowerCase();
  const options = events
    .filter((e) => e.names[transport])
    // Either transport's name: someone who knows the event as ViewContent finds it on either.
    .filter(
      (e) =>
        !q ||
        [e.label, e.key, e.category, ...Object.values(e.names)].some((text) =>
          text?.toLowerCase().includes(q),
        ),
    )
    .map((e) => ({
      value: e.key,
      label: e.label,
      detail: e.names[transport] ?? e.key,
      category: e.category,
    }));
  if (customLabel !== null) {
    options.push({ value: CUSTOM, label: customLabel, detail: "", category: "Your own" });
  }
  return options;
}

export function EventPicker({
  id,
  events,
  transport,
  value,
  displayLabel,
  onPick,
  disabled,
  invalid,
  describedBy,
  customLabel,
}: {
  id: string;
  events: readonly CatalogEvent[];
  transport: string;
  value: string;
  displayLabel: string;
  onPick: (value: string) => void;
  disabled: boolean;
  invalid: boolean;
  describedBy?: string;
  customLabel: string | null;
}) {
  const listId = useId();
  const [query, setQuery] = useState<string | null>(null);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const open = query !== null;
  const options = useMemo(
    () => filterOptions(events, transport, query ?? "", customLabel),
    [events, transport, query, customLabel],
  );

  const pick = (option: PickerOption | undefined) => {
    if (!option) return;
    onPick(option.value);
    setQuery(null);
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (!open) {
      if (event.key === "ArrowDown" || event.key === "Enter") {
        event.preventDefault();
        setQuery("");
        setActive(0);
      }
      return;
    }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      setActive((i) => (i + step + options.length) % Math.max(options.length, 1));
    } else if (event.key === "Enter") {
      event.preventDefault();
      pick(options[active]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      setQuery(null);
    }
  };

  // A category's heading goes before its first option.
  const headed = options.map((option, index) => ({
    option,
    index,
    header:
      index === 0 || options[index - 1]?.category !== option.category ? option.category : null,
  }));
  return (
    <div className="event-picker">
      <input
        id={id}
        ref={input}
        type="text"
        role="combobox"
        aria-expanded={open}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={open && options[active] ? `${listId}-${active}` : undefined}
        aria-invalid={invalid || undefined}
        aria-describedby={describedBy}
        disabled={disabled}
        autoComplete="off"
        placeholder="Search events…"
        value={open ? query : displayLabel}
        onFocus={() => {
          if (!disabled) {
            setQuery("");
            setActive(0);
          }
        }}
        onClick={() => !disabled && query === null && setQuery("")}
        onChange={(e) => {
          setQuery(e.target.value);
          setActive(0);
        }}
        onBlur={() => window.setTimeout(() => setQuery(null), 150)}
        onKeyDown={onKeyDown}
      />
      <ul id={listId} role="listbox" aria-label="Events" className="event-options" hidden={!open}>
        {options.length === 0 && <li className="muted small">No event matches “{query}”.</li>}
        {headed.map(({ option, index, header }) => {
          return [
            header && (
              <li key={`h-${header}`} role="presentation" className="event-group">
                {header}
              </li>
            ),
            <li
              key={option.value}
              id={`${listId}-${index}`}
              role="option"
              aria-selected={option.value === value}
              className={index === active ? "is-active" : undefined}
              onMouseDown={(event) => {
                event.preventDefault();
                pick(option);
              }}
              onMouseEnter={() => setActive(index)}
            >
              <span>{option.label}</span>
              {option.detail && <code className="event-name">{option.detail}</code>}
            </li>,
          ];
        })}
      </ul>
    </div>
  );
}
