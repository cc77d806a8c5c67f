/** A block on the canvas: its label and summary, one input (except Start), one output handle
 * per way out (Next, True/False, each quick reply and button), and its problems as a badge. */

import { Handle, Position, type NodeProps } from "@xyflow/react";
import { memo } from "react";
import { handlesFor, wiredHandles } from "../graph/ops";
import { nodeResultText, percent, type NodeResult } from "../graph/results";
import { blockSummary } from "../graph/summary";
import { useEditor, type FlowNode } from "../store/editor";
import { BlockIcon } from "./icons";

const NO_PROBLEMS: never[] = [];

/** What the Results overlay shows on a block: people who reached it, the drop-off, and on a
 * log-event block its events by status with the last error. */
function BlockResults({ result }: { result: NodeResult }) {
  const events = result.events;
  return (
    <div className="block-results" role="note" aria-label={`Results: ${nodeResultText(result)}`}>
      <div className="results-line">
        <strong className="results-reached">{result.reached.toLocaleString("en")}</strong> reached
        {result.dropOff > 0 && (
          <span className="results-drop" title="Reached this block and went no further">
            ▼ {result.dropOff.toLocaleString("en")} dropped off ({percent(result.dropShare)})
          </span>
        )}
        {result.handedOff > 0 && (
          <span className="results-handoff">{result.handedOff} handed off</span>
        )}
      </div>
      {events && (
        <div
          className="results-events"
          role="note"
          aria-label={`Events: ${events.delivered} delivered, ${events.failed} failed, ${events.not_sent} not sent${events.pending ? `, ${events.pending} on their way` : ""}`}
        >
          <span className="ev ev-delivered">{events.delivered} delivered</span>
          <span className={events.failed ? "ev ev-failed" : "ev"}>{events.failed} failed</span>
          <span className={events.not_sent ? "ev ev-unsent" : "ev"}>
            {events.not_sent} not sent
          </span>
          {events.pending > 0 && <span className="ev">{events.pending} on their way</span>}
          {events.last_error && (
            <div className="results-error" title={events.last_error}>
              Last error: {events.last_error}
            </div>
          )}
        </div>
      )}
    </div>
  );
}

function BlockNodeView({ id, type, data, selected }: NodeProps<FlowNode>) {
  const block = useEditor((s) => s.blocks[type]);
  const readOnly = useEditor((s) => s.readOnly || s.versionView !== null || s.results !== null);
  const problems = useEditor((s) => s.problemsByNode[id] ?? NO_PROBLEMS);
  const current = useEditor((s) => s.chat.current === id);
  const onPath = useEditor((s) => s.chat.path.includes(id));
  const mark = useEditor((s) => s.diff?.nodes[id]);
  const eventLabel = useEditor((s) => s.eventLabels);
  const result = useEditor((s) => s.results?.byNode[id]);
  // The handles wired now, as one string so the node re-renders only when they change.
  const wired = useEditor((s) => wiredHandles(s.versionView?.edges ?? s.edges).get(id) ?? "");
  const handles = handlesFor(block, data, new Set(wired.split(" ")));
  // Each quick reply and button leads out on the right of its own row; the block's own ways
  // out (Next, True/False) along its bottom.
  const ownIds = new Set(block?.handles.map((h) => h.id));
  const items = handles.filter((h) => !ownIds.has(h.id));
  const own = handles.filter((h) => ownIds.has(h.id));
  const errors = problems.filter((p) => p.severity === "error").length;
  const warnings = problems.length - errors;
  const summary = blockSummary(block, data, (key) => eventLabel[key]);
  const classes = [
    "block",
    `block-${type}`,
    selected ? "is-selected" : "",
    current ? "is-current" : onPath ? "on-path" : "",
    errors ? "has-errors" : warnings ? "has-warnings" : "",
    mark ? `diff-${mark}` : "",
    result ? "has-results" : "",
    result && result.dropOff > 0 ? "has-dropoff" : "",
  ];
  return (
    <div className={classes.filter(Boolean).join(" ")}>
      {type !== "start" && (
        <Handle
          type="target"
          position={Position.Top}
          isConnectable={!readOnly}
          className="handle-in"
          aria-label="Input"
        />
      )}
      <div className="block-head">
        <BlockIcon type={type} />
        <span className="block-label">{block?.label ?? type}</span>
        {mark && mark !== "moved" && <span className={`diff-tag diff-tag-${mark}`}>{mark}</span>}
        {(errors > 0 || warnings > 0) && (
          <span
            className={errors ? "badge badge-error" : "badge badge-warning"}
            title={problems.map((p) => p.message).join("\n")}
            aria-label={
              errors
                ? `${errors} problem${errors === 1 ? "" : "s"}`
                : `${warnings} warning${warnings === 1 ? "" : "s"}`
            }
          >
            {errors || warnings}
          </span>
        )}
      </div>
      {summary && <div className="block-summary">{summary}</div>}
      {!block && <div className="block-summary muted">Unknown block type “{type}”</div>}
      {result && <BlockResults result={result} />}
      {items.length > 0 && (
        <ul className="block-items">
          {items.map((handle) => (
            <li className="block-item" key={handle.id}>
              <span className="block-item-label">{handle.label}</span>
              <Handle
                type="source"
                id={handle.id}
                position={Position.Right}
                isConnectable={!readOnly}
                className="handle-item"
                aria-label={`${handle.label} output`}
              />
            </li>
          ))}
        </ul>
      )}
      {own.length > 0 && (
        <div className="block-outs">
          {own.map((handle) => (
            <div className="block-out" key={handle.id}>
              <span className="block-out-label">{handle.label}</span>
              <Handle
                type="source"
                id={handle.id}
                position={Position.Bottom}
                isConnectable={!readOnly}
                className="handle-out"
                aria-label={`${handle.label} output`}
              />
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

export const BlockNode = memo(BlockNodeView);
