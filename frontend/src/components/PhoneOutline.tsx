/** The phone view's reading of a flow: every block in the order a conversation meets it, what
 * it says, and where each of its ways out leads. Pressing a block brings it into view on the
 * canvas above. Read-only: a phone is for reading, testing and results (editing needs a wider
 * screen, docs/adr/0008-flow-editor.md). */

import { useMemo } from "react";
import { flowOutline } from "../graph/outline";
import { nodeResultText } from "../graph/results";
import { useEditor } from "../store/editor";
import { BlockIcon } from "./icons";
import { useFocusNode } from "./ProblemsPanel";

function exitText(target: string | null, required: boolean, name: string | null): string {
  if (target !== null) return name ?? target;
  return required ? "not connected yet" : "the conversation ends here";
}

export function PhoneOutline() {
  const nodes = useEditor((s) => s.versionView?.nodes ?? s.nodes);
  const edges = useEditor((s) => s.versionView?.edges ?? s.edges);
  const blocks = useEditor((s) => s.blocks);
  const eventLabels = useEditor((s) => s.eventLabels);
  const problemsByNode = useEditor((s) => s.problemsByNode);
  const results = useEditor((s) => s.results?.byNode);
  const description = useEditor((s) => s.settings.description);
  const focusNode = useFocusNode();
  const outline = useMemo(
    () =>
      flowOutline(
        nodes.map((n) => ({ id: n.id, type: n.type ?? "", position: n.position, data: n.data })),
        edges,
        blocks,
        (key) => eventLabels[key],
      ),
    [nodes, edges, blocks, eventLabels],
  );

  const show = (nodeId: string) => {
    focusNode(nodeId);
    document.querySelector(".canvas-pane")?.scrollIntoView({ block: "start", behavior: "smooth" });
  };

  return (
    <section className="phone-outline" aria-labelledby="phone-outline-title">
      <h2 className="panel-title" id="phone-outline-title">
        Step by step
      </h2>
      {description && <p className="muted">{description}</p>}
      <ol className="outline-list">
        {outline.map((entry) => {
          const problems = problemsByNode[entry.id] ?? [];
          const errors = problems.filter((p) => p.severity === "error").length;
          const result = results?.[entry.id];
          return (
            <li
              key={entry.id}
              className={entry.reachable ? "outline-entry" : "outline-entry is-unreached"}
            >
              <button type="button" className="outline-block" onClick={() => show(entry.id)}>
                <BlockIcon type={entry.type} />
                <span>{entry.name}</span>
              </button>
              {!entry.reachable && (
                <p className="outline-note">Nothing leads here: no conversation reaches it.</p>
              )}
              {problems.length > 0 && (
                <p className={errors ? "outline-note bad" : "outline-note"}>
                  {problems.map((p) => p.message).join(" ")}
                </p>
              )}
              {result && <p className="outline-note">{nodeResultText(result)}</p>}
              {entry.exits.length > 0 && (
                <ul className="outline-exits">
                  {entry.exits.map((exit, index) => (
                    <li key={index}>
                      <span className="outline-exit-label">{exit.label}</span>
                      {" → "}
                      <span className={exit.target === null && exit.required ? "bad" : ""}>
                        {exitText(exit.target, exit.required, exit.targetName)}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </li>
          );
        })}
      </ol>
    </section>
  );
}
