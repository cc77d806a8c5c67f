/** The palette: every block type the registry serves (Start only while there is none). Drag one onto
 * the canvas, or press it (Enter/Space) to add it at the centre of the view. */

import { useReactFlow } from "@xyflow/react";
import type { DragEvent } from "react";
import { editorStore, useEditor } from "../store/editor";
import { PALETTE_MIME } from "./Canvas";
import { BlockIcon } from "./icons";

export function Palette() {
  const blocks = useEditor((s) => s.blockList);
  // A flow has one Start: offered only while the flow has none (an old or imported draft).
  const hasStart = useEditor((s) => s.nodes.some((n) => n.type === "start"));
  const flow = useReactFlow();

  const addAtCentre = (type: string) => {
    const pane = document.querySelector(".canvas-pane")?.getBoundingClientRect();
    const at = pane
      ? flow.screenToFlowPosition({ x: pane.left + pane.width / 2, y: pane.top + pane.height / 2 })
      : { x: 0, y: 0 };
    // A little scatter, so blocks added one after another do not hide each other.
    const count = editorStore.getState().nodes.length % 5;
    const id = editorStore
      .getState()
      .addBlock(type, { x: at.x - 110 + count * 24, y: at.y - 30 + count * 24 });
    if (id) {
      window.requestAnimationFrame(() =>
        document
          .querySelector<HTMLElement>(`.react-flow__node[data-id="${CSS.escape(id)}"]`)
          ?.focus(),
      );
    }
  };

  const onDragStart = (event: DragEvent, type: string) => {
    event.dataTransfer.setData(PALETTE_MIME, type);
    event.dataTransfer.effectAllowed = "copy";
  };

  return (
    <aside className="palette" aria-label="Blocks">
      <h2 className="panel-title">Blocks</h2>
      <p className="muted small">Drag onto the canvas, or press to add.</p>
      <ul>
        {blocks
          .filter((b) => b.type !== "start" || !hasStart)
          .map((block) => (
            <li key={block.type}>
              <button
                type="button"
                className="palette-item"
                draggable
                onDragStart={(e) => onDragStart(e, block.type)}
                onClick={() => addAtCentre(block.type)}
                aria-label={block.label}
                aria-describedby={`palette-desc-${block.type}`}
              >
                <BlockIcon type={block.type} />
                <span className="palette-text">
                  <span className="palette-label">{block.label}</span>
                  <span className="palette-desc" id={`palette-desc-${block.type}`}>
                    {block.description}
                  </span>
                </span>
              </button>
            </li>
          ))}
      </ul>
    </aside>
  );
}
