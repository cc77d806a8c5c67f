/** The Results overlay's controls above the canvas: the days and the version counted, and
 * what the numbers are. The numbers themselves are on the blocks and edges. */

import { people } from "../graph/results";
import { useEditor } from "../store/editor";
import type { FlowVersion } from "../types";

export interface ResultsRange {
  from: string;
  to: string;
  /** "latest", "all", or a version number. */
  version: string;
}

/** The last 30 days (UTC, as the server counts them), the latest version. */
export function defaultRange(today: Date = new Date()): ResultsRange {
  const to = today.toISOString().slice(0, 10);
  const from = new Date(today.getTime() - 29 * 86_400_000).toISOString().slice(0, 10);
  return { from, to, version: "latest" };
}

export function ResultsBar({
  range,
  setRange,
  versions,
  loading,
  error,
  onClose,
}: {
  range: ResultsRange;
  setRange: (range: ResultsRange) => void;
  versions: FlowVersion[];
  loading: boolean;
  error: string;
  onClose: () => void;
}) {
  const started = useEditor((s) => s.results?.started ?? null);
  return (
    <div className="results-bar" role="region" aria-label="Results">
      <label className="inline">
        From{" "}
        <input
          type="date"
          value={range.from}
          max={range.to || undefined}
          onChange={(e) => setRange({ ...range, from: e.target.value })}
        />
      </label>
      <label className="inline">
        To{" "}
        <input
          type="date"
          value={range.to}
          min={range.from || undefined}
          onChange={(e) => setRange({ ...range, to: e.target.value })}
        />
      </label>
      <label className="inline">
        Version{" "}
        <select
          value={range.version}
          onChange={(e) => setRange({ ...range, version: e.target.value })}
        >
          <option value="latest">Latest</option>
          <option value="all">All versions</option>
          {versions.map((v) => (
            <option key={v.number} value={String(v.number)}>
              Version {v.number}
            </option>
          ))}
        </select>
      </label>
      <span className="results-summary" role="status" aria-live="polite">
        {error
          ? error
          : loading
            ? "Counting…"
            : started === null
              ? ""
              : versions.length === 0
                ? "Not published yet: nobody has run this flow."
                : `${people(started)} started. Read-only while results are shown.`}
      </span>
      <button type="button" className="link" onClick={onClose}>
        Hide results
      </button>
    </div>
  );
}
