/** Versions beside the canvas: each published version, to open read-only, compare with the
 * draft or a later version (blocks added, removed and changed marked on the canvas) or restore
 * into the draft. */

import { useState } from "react";
import type { Api } from "../api";
import { editorStore, useEditor } from "../store/editor";
import type { Flow, FlowVersion } from "../types";

export function VersionsPanel({
  api,
  flowId,
  versions,
  canEdit,
  beforeRestore,
  onRestored,
}: {
  api: Api;
  flowId: number;
  versions: FlowVersion[];
  canEdit: boolean;
  beforeRestore: () => Promise<number>;
  onRestored: (flow: Flow, number: number) => void;
}) {
  const viewing = useEditor((s) => s.versionView?.number ?? null);
  const against = useEditor((s) => s.versionView?.against ?? null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  // What "Compare" compares a version with: the draft, or a version by its number.
  const [target, setTarget] = useState("draft");

  const show = async (number: number, compare: boolean) => {
    setBusy(true);
    setError("");
    try {
      const version = await api.version(flowId, number);
      const other =
        compare && target !== "draft" ? await api.version(flowId, Number(target)) : null;
      editorStore
        .getState()
        .showVersion(
          { number, document: version.document },
          other ? { number: other.number, document: other.document } : compare,
        );
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  const restore = async (number: number) => {
    if (!window.confirm(`Replace the draft with version ${number}? Undo brings the draft back.`))
      return;
    setBusy(true);
    setError("");
    try {
      const revision = await beforeRestore();
      const flow = await api.restore(flowId, number, revision);
      editorStore.getState().showVersion(null, false);
      onRestored(flow, number);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="side-panel versions-panel" aria-label="Versions">
      <h2 className="panel-title">Versions</h2>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {versions.length === 0 ? (
        <p className="muted small">Not published yet. Publish makes version 1.</p>
      ) : (
        <>
          <div className="field compare-with">
            <label htmlFor="compare-with">Compare with</label>
            <select id="compare-with" value={target} onChange={(e) => setTarget(e.target.value)}>
              <option value="draft">The draft</option>
              {versions.map((v) => (
                <option key={v.number} value={v.number}>
                  Version {v.number}
                </option>
              ))}
            </select>
          </div>
          <ol className="version-list" reversed>
            {versions.map((v) => (
              <li key={v.number} className={viewing === v.number ? "is-viewing" : undefined}>
                <div>
                  <strong>Version {v.number}</strong>{" "}
                  <span className="muted small">
                    {new Date(v.published_at).toLocaleString()}
                    {v.published_by_label ? ` · ${v.published_by_label}` : ""}
                  </span>
                </div>
                {v.note && <p className="small">{v.note}</p>}
                <div className="button-row">
                  <button
                    type="button"
                    className="small"
                    disabled={busy}
                    onClick={() => void show(v.number, false)}
                  >
                    Open version {v.number}
                  </button>
                  <button
                    type="button"
                    className="small"
                    disabled={busy}
                    onClick={() => void show(v.number, true)}
                  >
                    Compare version {v.number} with{" "}
                    {target === "draft" ? "draft" : `version ${target}`}
                  </button>
                  {canEdit && (
                    <button
                      type="button"
                      className="small"
                      disabled={busy}
                      onClick={() => void restore(v.number)}
                    >
                      Restore version {v.number}
                    </button>
                  )}
                </div>
              </li>
            ))}
          </ol>
        </>
      )}
      {viewing !== null && (
        <p className="small">
          {against
            ? `Showing the changes in ${against} since version ${viewing}.`
            : `Showing version ${viewing}, read-only.`}{" "}
          <button
            type="button"
            className="link"
            onClick={() => editorStore.getState().showVersion(null, false)}
          >
            Back to the draft
          </button>
        </p>
      )}
    </section>
  );
}
