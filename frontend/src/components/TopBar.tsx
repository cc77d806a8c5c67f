/** The top bar: the flow's name, Page and trigger, whether it is saved, and the actions. */

import { useRef, useState } from "react";
import { useEditor } from "../store/editor";
import type { SaveState } from "../store/autosave";
import type { ConnectedPage, Trigger } from "../types";

export type Panel = "inspector" | "test" | "versions";

function saveText(state: SaveState): string {
  switch (state.kind) {
    case "saved":
      return "Saved";
    case "dirty":
      return "Not saved yet…";
    case "saving":
      return "Saving…";
    case "error":
      return `Not saved: ${state.message}`;
    case "conflict":
      return "Not saved: someone else saved this flow";
  }
}

const TRIGGER_KINDS: { value: Trigger["kind"]; label: string }[] = [
  { value: "keywords", label: "Keywords" },
  { value: "get_started", label: "Get Started button" },
  { value: "ref", label: "Link or ad (ref)" },
  { value: "default", label: "Default reply" },
];

export function triggerSummary(trigger: Trigger): string {
  switch (trigger.kind) {
    case "keywords":
      return trigger.keywords.length
        ? `Keywords: ${trigger.keywords.join(", ")}`
        : "Keywords: none yet";
    case "get_started":
      return "Get Started button";
    case "ref":
      return trigger.ref ? `Link: ?ref=${trigger.ref}` : "Link: no ref yet";
    case "default":
      return "Default reply";
  }
}

export function TriggerDialog({
  trigger,
  page,
  onChange,
  disabled,
  onClose,
}: {
  trigger: Trigger;
  page: ConnectedPage | undefined;
  onChange: (trigger: Trigger, key: string) => void;
  disabled: boolean;
  onClose: () => void;
}) {
  const [copied, setCopied] = useState(false);
  const link =
    page && trigger.ref
      ? `https://m.me/${page.page_id}?ref=${encodeURIComponent(trigger.ref)}`
      : "";
  return (
    <div className="popover" role="dialog" aria-label="Trigger" aria-modal="false">
      <div className="field">
        <label htmlFor="trigger-kind">Starts when</label>
        <select
          id="trigger-kind"
          value={trigger.kind}
          disabled={disabled}
          onChange={(e) =>
            onChange({ ...trigger, kind: e.target.value as Trigger["kind"] }, "kind")
          }
        >
          {TRIGGER_KINDS.map((k) => (
            <option key={k.value} value={k.value}>
              {k.label}
            </option>
          ))}
        </select>
      </div>
      {trigger.kind === "keywords" && (
        <div className="field">
          <label htmlFor="trigger-keywords">Keywords</label>
          <input
            id="trigger-keywords"
            type="text"
            disabled={disabled}
            defaultValue={trigger.keywords.join(", ")}
            aria-describedby="trigger-keywords-help"
            onChange={(e) =>
              onChange(
                {
                  ...trigger,
                  keywords: e.target.value
                    .split(",")
                    .map((k) => k.trim())
                    .filter(Boolean),
                },
                "keywords",
              )
            }
          />
          <p className="field-help" id="trigger-keywords-help">
            Separated by commas. A message containing one as a whole word starts the flow.
          </p>
        </div>
      )}
      {trigger.kind === "ref" && (
        <div className="field">
          <label htmlFor="trigger-ref">Ref</label>
          <input
            id="trigger-ref"
            type="text"
            disabled={disabled}
            value={trigger.ref}
            aria-describedby="trigger-ref-help"
            onChange={(e) => onChange({ ...trigger, ref: e.target.value }, "ref")}
          />
          <p className="field-help" id="trigger-ref-help">
            Letters, digits, -, _ and =. People who open the link below (or an ad or QR code with
            this ref) start this flow.
          </p>
          {link && (
            <div className="copy-row">
              <input type="text" readOnly value={link} aria-label="m.me link" />
              <button
                type="button"
                className="small"
                onClick={() => {
                  void navigator.clipboard.writeText(link).then(() => setCopied(true));
                }}
              >
                {copied ? "Copied" : "Copy link"}
              </button>
            </div>
          )}
        </div>
      )}
      {trigger.kind === "get_started" && (
        <p className="muted small">
          Starts when someone presses Get Started (payload GET_STARTED) on the Page’s Messenger.
        </p>
      )}
      {trigger.kind === "default" && (
        <p className="muted small">Answers any message no other flow of the Page answers.</p>
      )}
      <div className="button-row">
        <button type="button" onClick={onClose}>
          Done
        </button>
      </div>
    </div>
  );
}

export function TopBar({
  phone,
  saveState,
  pages,
  panel,
  setPanel,
  canPublish,
  onValidate,
  onPublish,
  onTidy,
  flowsUrl,
  resultsOn,
  onResults,
}: {
  /** The phone view: the name, Page and trigger as text; nothing to save. */
  phone: boolean;
  saveState: SaveState;
  pages: ConnectedPage[];
  panel: Panel;
  setPanel: (panel: Panel) => void;
  canPublish: boolean;
  onValidate: () => void;
  onPublish: () => void;
  onTidy: () => void;
  flowsUrl: string;
  resultsOn: boolean;
  onResults: () => void;
}) {
  const settings = useEditor((s) => s.settings);
  const readOnly = useEditor((s) => s.readOnly || s.results !== null);
  const locked = useEditor((s) => s.readOnly || s.versionView !== null || s.results !== null);
  const canUndo = useEditor((s) => s.history.past.length > 0);
  const canRedo = useEditor((s) => s.history.future.length > 0);
  const updateSettings = useEditor((s) => s.updateSettings);
  const undo = useEditor((s) => s.undo);
  const redo = useEditor((s) => s.redo);
  const [triggerOpen, setTriggerOpen] = useState(false);
  const triggerButton = useRef<HTMLButtonElement>(null);
  const page = pages.find((p) => p.id === settings.page);
  const saveClass =
    saveState.kind === "error" || saveState.kind === "conflict" ? "save-state bad" : "save-state";

  return (
    <header className="editor-topbar">
      <a className="back" href={flowsUrl} aria-label="All flows">
        ←
      </a>
      {phone ? (
        <div className="flow-settings">
          <h1 className="flow-name-text">{settings.name}</h1>
          <p className="flow-meta-text muted small">
            {page?.name ?? `Page #${settings.page}`} · {triggerSummary(settings.trigger)}
          </p>
        </div>
      ) : (
        <>
          <div className="flow-settings">
            <input
              className="flow-name"
              type="text"
              aria-label="Flow name"
              value={settings.name}
              maxLength={200}
              disabled={readOnly}
              onChange={(e) => updateSettings({ name: e.target.value }, "name")}
            />
            <div className="flow-meta">
              <label className="inline">
                <span className="visually-hidden">Page</span>
                <select
                  aria-label="Page"
                  value={settings.page}
                  disabled={readOnly}
                  onChange={(e) => updateSettings({ page: Number(e.target.value) }, "page")}
                >
                  {pages.map((p) => (
                    <option key={p.id} value={p.id}>
                      {p.name}
                      {p.status !== "active" ? ` (${p.status.replace(/_/g, " ")})` : ""}
                    </option>
                  ))}
                  {!page && <option value={settings.page}>Page #{settings.page}</option>}
                </select>
              </label>
              <span className="trigger-wrap">
                <button
                  type="button"
                  ref={triggerButton}
                  className="trigger-button"
                  aria-expanded={triggerOpen}
                  aria-label={`Trigger: ${triggerSummary(settings.trigger)}`}
                  onClick={() => setTriggerOpen((open) => !open)}
                >
                  {triggerSummary(settings.trigger)} ▾
                </button>
                {triggerOpen && (
                  <TriggerDialog
                    trigger={settings.trigger}
                    page={page}
                    disabled={readOnly}
                    onChange={(trigger, key) => updateSettings({ trigger }, `trigger.${key}`)}
                    onClose={() => {
                      setTriggerOpen(false);
                      triggerButton.current?.focus();
                    }}
                  />
                )}
              </span>
            </div>
          </div>
          <span className={saveClass} role="status" aria-live="polite">
            {readOnly ? "Read-only" : saveText(saveState)}
          </span>
        </>
      )}
      <div className="toolbar" role="toolbar" aria-label="Flow actions">
        {!readOnly && (
          <>
            <button type="button" onClick={undo} disabled={!canUndo || locked} title="Ctrl/Cmd+Z">
              Undo
            </button>
            <button
              type="button"
              onClick={redo}
              disabled={!canRedo || locked}
              title="Shift+Ctrl/Cmd+Z"
            >
              Redo
            </button>
            <button type="button" onClick={onTidy} disabled={locked}>
              Tidy up
            </button>
          </>
        )}
        <button type="button" onClick={onValidate}>
          Validate
        </button>
        <button
          type="button"
          aria-pressed={resultsOn}
          title="How many people reached each block, and where they dropped off"
          onClick={onResults}
        >
          Results
        </button>
        <button
          type="button"
          aria-pressed={panel === "test"}
          onClick={() => setPanel(panel === "test" ? "inspector" : "test")}
        >
          Test
        </button>
        <button
          type="button"
          aria-pressed={panel === "versions"}
          onClick={() => setPanel(panel === "versions" ? "inspector" : "versions")}
        >
          Versions
        </button>
        {canPublish && (
          <button type="button" className="primary" onClick={onPublish} disabled={locked}>
            Publish
          </button>
        )}
      </div>
    </header>
  );
}
