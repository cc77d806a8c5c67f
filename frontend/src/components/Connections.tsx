/** The selected block's outputs and where each leads: wiring from the keyboard (and a list of
 * what a block connects to, which the canvas shows only as lines). */

import { handlesFor } from "../graph/ops";
import { editorStore, useEditor } from "../store/editor";
import type { BlockType, JsonObject } from "../types";

export function Connections({
  nodeId,
  block,
  data,
  disabled,
}: {
  nodeId: string;
  block: BlockType;
  data: JsonObject;
  disabled: boolean;
}) {
  const nodes = useEditor((s) => s.nodes);
  const edges = useEditor((s) => s.edges);
  const handles = handlesFor(
    block,
    data,
    new Set(edges.filter((e) => e.source === nodeId).map((e) => e.sourceHandle ?? "next")),
  );
  if (!handles.length) return null;
  const targets = nodes.filter((n) => n.type !== "start" && n.id !== nodeId);
  return (
    <fieldset className="field connections">
      <legend>Then</legend>
      {handles.map((handle) => {
        const edge = edges.find(
          (e) => e.source === nodeId && (e.sourceHandle ?? "next") === handle.id,
        );
        const id = `connect-${nodeId}-${handle.id}`.replace(/[^A-Za-z0-9_-]/g, "_");
        return (
          <div className="connection-row" key={handle.id}>
            <label htmlFor={id}>{handle.label} goes to</label>
            <select
              id={id}
              value={edge?.target ?? ""}
              disabled={disabled}
              onChange={(e) =>
                editorStore
                  .getState()
                  .setConnection(nodeId, handle.id, e.target.value === "" ? null : e.target.value)
              }
            >
              <option value="">
                {handle.required ? "Not connected yet" : "Nothing (ends here)"}
              </option>
              {edge && !targets.some((n) => n.id === edge.target) && (
                <option value={edge.target}>{edge.target}</option>
              )}
              {targets.map((n) => (
                <option key={n.id} value={n.id}>
                  {n.ariaLabel ?? n.id}
                </option>
              ))}
            </select>
          </div>
        );
      })}
    </fieldset>
  );
}
