/** Modal dialogs: publishing (with a note, refused with the problems when the draft has
 * errors) and the choice after someone else saved the flow. */

import { useEffect, useRef, useState, type ReactNode } from "react";
import type { ConflictDetails } from "../store/autosave";
import type { Problem } from "../types";

export function Modal({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  const titleId = `dialog-${title.replace(/\W+/g, "-").toLowerCase()}`;
  return (
    <dialog
      ref={ref}
      className="modal"
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  );
}

export function PublishDialog({
  onPublish,
  onClose,
  problems,
  busy,
  error,
}: {
  onPublish: (note: string) => void;
  onClose: () => void;
  problems: Problem[] | null;
  busy: boolean;
  error: string;
}) {
  const [note, setNote] = useState("");
  return (
    <Modal title="Publish this flow" onClose={onClose}>
      <p>
        Publishing freezes the draft as a new version. People who write to the Page get it from
        their next conversation; conversations under way finish on the version they started.
      </p>
      <div className="field">
        <label htmlFor="publish-note">Note</label>
        <textarea
          id="publish-note"
          rows={3}
          maxLength={500}
          value={note}
          placeholder="What changed, for your team"
          onChange={(e) => setNote(e.target.value)}
        />
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {problems && problems.length > 0 && (
        <div role="alert">
          <p className="error">Fix these first; nothing was published:</p>
          <ul className="problem-list">
            {problems
              .filter((p) => p.severity === "error")
              .map((p, i) => (
                <li key={i}>
                  {p.node_id ? <code>{p.node_id}</code> : null} {p.message}
                </li>
              ))}
          </ul>
        </div>
      )}
      <div className="button-row">
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" className="primary" disabled={busy} onClick={() => onPublish(note)}>
          {busy ? "Publishing…" : "Publish"}
        </button>
      </div>
    </Modal>
  );
}

function when(iso: string | null): string {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : ` at ${date.toLocaleTimeString()}`;
}

export function ConflictDialog({
  conflict,
  onLoadTheirs,
  onKeepMine,
}: {
  conflict: ConflictDetails;
  onLoadTheirs: () => void;
  onKeepMine: () => void;
}) {
  return (
    <Modal title="Someone else saved this flow" onClose={() => undefined}>
      <p>
        {conflict.updatedBy ?? "Someone"} saved it{when(conflict.updatedAt)} (revision{" "}
        {conflict.currentRevision}) while you were editing. Your changes are not saved yet.
      </p>
      <ul>
        <li>
          <strong>Load theirs</strong> shows their version; Undo brings yours back.
        </li>
        <li>
          <strong>Keep mine</strong> saves yours over theirs. If they are still editing, they are
          asked the same question; published versions never change.
        </li>
      </ul>
      <div className="button-row">
        <button type="button" onClick={onLoadTheirs}>
          Load theirs
        </button>
        <button type="button" className="primary" onClick={onKeepMine}>
          Keep mine
        </button>
      </div>
    </Modal>
  );
}
