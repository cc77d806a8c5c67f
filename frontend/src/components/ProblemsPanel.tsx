/** Every problem in the draft: press one to select its block and bring it into view. */

import { useReactFlow } from "@xyflow/react";
import { useShallow } from "zustand/react/shallow";
import { editorStore, useEditor, type FlowNode } from "../store/editor";
import type { Problem } from "../types";

export function useFocusNode() {
  const flow = useReactFlow<FlowNode>();
  return (nodeId: string) => {
    editorStore.getState().selectOnly(nodeId);
    const node = flow.getNode(nodeId);
    if (!node) return;
    const width = node.measured?.width ?? 220;
    const height = node.measured?.height ?? 80;
    void flow.setCenter(node.position.x + width / 2, node.position.y + height / 2, {
      zoom: Math.max(flow.getZoom(), 0.9),
      duration: 250,
    });
  };
}

export function allProblems(
  server: readonly Problem[],
  byNode: Readonly<Record<string, Problem[]>>,
): Problem[] {
  const flowLevel = server.filter((p) => !p.node_id);
  const rest = Object.values(byNode).flat();
  const rank = (p: Problem) => (p.severity === "error" ? 0 : 1);
  return [...flowLevel, ...rest].sort((a, b) => rank(a) - rank(b));
}

/** `publishHere`: the person can publish on this screen (not a viewer, not on a phone). */
export function ProblemsPanel({ publishHere }: { publishHere: boolean }) {
  const problems = useEditor(useShallow((s) => allProblems(s.serverProblems, s.problemsByNode)));
  const labels = useEditor(
    useShallow((s) => Object.fromEntries(s.nodes.map((n) => [n.id, n.ariaLabel ?? n.id]))),
  );
  const focus = useFocusNode();
  const errors = problems.filter((p) => p.severity === "error").length;
  const warnings = problems.length - errors;
  const nameOf = (id: string | null) => (id ? (labels[id] ?? id) : "Flow");
  return (
    <section className="problems" aria-label="Problems">
      <h2 className="panel-title">
        Problems{" "}
        <span className="muted small">
          {errors} error{errors === 1 ? "" : "s"}, {warnings} warning{warnings === 1 ? "" : "s"}
        </span>
      </h2>
      {problems.length === 0 ? (
        <p className="muted small">
          {publishHere
            ? "No problems: the draft can be published."
            : "No problems: the draft is ready to be published."}
        </p>
      ) : (
        <ul>
          {problems.map((p, index) => (
            <li key={index} className={p.severity}>
              {p.node_id ? (
                <button type="button" className="link" onClick={() => focus(p.node_id as string)}>
                  {nameOf(p.node_id)}
                </button>
              ) : (
                <strong>
                  {p.field === "trigger" ? "Trigger" : p.field === "page" ? "Page" : "Flow"}
                </strong>
              )}
              : {p.message}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
