/** A text field whose value may hold {{variables}}: typing "{{" offers the variables set
 * upstream (arrows to choose, Enter or Tab to insert, Escape to close). */

import { useId, useRef, useState, type KeyboardEvent } from "react";

export interface TemplateInputProps {
  id: string;
  value: string;
  onChange: (value: string) => void;
  variables: readonly string[];
  multiline?: boolean;
  disabled?: boolean;
  invalid?: boolean;
  describedBy?: string;
  placeholder?: string;
  required?: boolean;
}

const OPEN = /\{\{\s*([A-Za-z0-9_]*)$/;

/** The variable being typed at `caret` ("{{na" -> "na"), or null when none is. */
export function typedVariable(text: string, caret: number): string | null {
  const match = OPEN.exec(text.slice(0, caret));
  return match ? (match[1] ?? "") : null;
}

/** `text` with the "{{partial" before `caret` completed to "{{name}}"; and the new caret. */
export function insertVariable(text: string, caret: number, name: string): [string, number] {
  const before = text.slice(0, caret).replace(OPEN, "");
  const after = text.slice(caret).replace(/^[A-Za-z0-9_]*\s*\}\}/, "");
  const inserted = `{{${name}}}`;
  return [before + inserted + after, before.length + inserted.length];
}

export function TemplateInput(props: TemplateInputProps) {
  const { id, value, onChange, variables, multiline, disabled, invalid, describedBy } = props;
  const listId = useId();
  const ref = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const [query, setQuery] = useState<string | null>(null);
  const [active, setActive] = useState(0);
  const matches =
    query === null ? [] : variables.filter((v) => v.toLowerCase().startsWith(query.toLowerCase()));
  const open = matches.length > 0;

  const refresh = (text: string, caret: number | null) => {
    setQuery(caret === null ? null : typedVariable(text, caret));
    setActive(0);
  };

  const choose = (name: string) => {
    const element = ref.current;
    const caret = element?.selectionStart ?? value.length;
    const [text, at] = insertVariable(value, caret, name);
    onChange(text);
    setQuery(null);
    window.requestAnimationFrame(() => {
      element?.focus();
      element?.setSelectionRange(at, at);
    });
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (!open) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      setActive((i) => (i + step + matches.length) % matches.length);
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      const name = matches[active];
      if (name) choose(name);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      setQuery(null);
    }
  };

  const common = {
    id,
    ref,
    value,
    disabled,
    required: props.required,
    placeholder: props.placeholder,
    role: "combobox",
    "aria-autocomplete": "list" as const,
    "aria-expanded": open,
    "aria-controls": listId,
    "aria-activedescendant": open ? `${listId}-${active}` : undefined,
    "aria-invalid": invalid || undefined,
    "aria-describedby": describedBy,
    onKeyDown,
    onBlur: () => window.setTimeout(() => setQuery(null), 150),
    onChange: (event: { target: { value: string; selectionStart: number | null } }) => {
      onChange(event.target.value);
      refresh(event.target.value, event.target.selectionStart);
    },
    onClick: () => refresh(value, ref.current?.selectionStart ?? null),
  };

  return (
    <div className="template-input">
      {multiline ? <textarea rows={3} {...common} /> : <input type="text" {...common} />}
      <ul
        id={listId}
        role="listbox"
        aria-label="Variables"
        className="variable-list"
        hidden={!open}
      >
        {matches.map((name, index) => (
          <li
            key={name}
            id={`${listId}-${index}`}
            role="option"
            aria-selected={index === active}
            onMouseDown={(event) => {
              event.preventDefault();
              choose(name);
            }}
          >
            {`{{${name}}}`}
          </li>
        ))}
      </ul>
    </div>
  );
}
