/** The inspector: the selected block's settings (a form from its schema, or the block's own
 * form where it has one), its problems, and Duplicate/Delete. Disabled for viewers. */

import { useMemo, type ComponentType } from "react";
import { useShallow } from "zustand/react/shallow";
import { fieldsFor } from "../forms/schemaForm";
import { FieldProblems, SchemaForm, type FormContext } from "../forms/SchemaForm";
import { LogEventForm } from "../forms/LogEventForm";
import { upstreamVariables } from "../graph/variables";
import { editorStore, toDocument, useEditor } from "../store/editor";
import type { BlockType, JsonObject } from "../types";
import { Connections } from "./Connections";
import { BlockIcon } from "./icons";

export interface BlockFormProps {
  block: BlockType;
  data: JsonObject;
  onChange: (data: JsonObject, key: string) => void;
  ctx: FormContext;
}

/** Blocks whose form is written by hand; every other block gets the generated one. */
const CUSTOM_FORMS: Record<string, ComponentType<BlockFormProps>> = {
  log_event: LogEventForm,
};

const NONE: never[] = [];

/** Duplicate and Delete for what is selected (the same as Ctrl/Cmd+D and Delete). */
function SelectionActions({ deleteLabel }: { deleteLabel: string }) {
  return (
    <div className="button-row">
      <button type="button" onClick={() => editorStore.getState().duplicateSelected()}>
        Duplicate
      </button>
      <button
        type="button"
        className="danger"
        onClick={() => editorStore.getState().removeSelected()}
      >
        {deleteLabel}
      </button>
    </div>
  );
}

/** The flow's description, for the team (the flows list shows it): edited while no block is
 * selected. */
function FlowDescription({ disabled }: { disabled: boolean }) {
  const description = useEditor((s) => s.settings.description);
  return (
    <div className="field">
      <label htmlFor="flow-description">About this flow</label>
      <textarea
        id="flow-description"
        rows={3}
        value={description}
        disabled={disabled}
        placeholder="What it is for, for your team"
        onChange={(e) =>
          editorStore.getState().updateSettings({ description: e.target.value }, "description")
        }
      />
    </div>
  );
}

export function GeneratedForm({ block, data, onChange, ctx }: BlockFormProps) {
  const fields = useMemo(() => fieldsFor(block.schema), [block.schema]);
  return <SchemaForm fields={fields} value={data} onChange={onChange} ctx={ctx} />;
}

export function Inspector({ systemVariables }: { systemVariables: readonly string[] }) {
  // Ids only: a drag moves nodes on every frame, and the inspector need not follow it.
  const selected = useEditor(
    useShallow((s) => (s.versionView?.nodes ?? s.nodes).filter((n) => n.selected).map((n) => n.id)),
  );
  const nodeId = selected.length === 1 ? selected[0] : undefined;
  const node = useEditor(
    useShallow((s) => {
      const found = (s.versionView?.nodes ?? s.nodes).find((n) => n.id === nodeId);
      return found ? { id: found.id, type: found.type ?? "", data: found.data } : null;
    }),
  );
  const block = useEditor((s) => (node ? s.blocks[node.type] : undefined));
  const locked = useEditor((s) => s.readOnly || s.versionView !== null || s.results !== null);
  const problems = useEditor((s) => (node ? (s.problemsByNode[node.id] ?? NONE) : NONE));
  // What upstream variables depend on: the wiring and each block's type and data, not
  // positions (each list keeps its elements while a block is dragged, so nothing re-runs).
  const edges = useEditor((s) => s.edges);
  const blocks = useEditor((s) => s.blocks);
  const ids = useEditor(useShallow((s) => s.nodes.map((n) => n.id)));
  const types = useEditor(useShallow((s) => s.nodes.map((n) => n.type ?? "")));
  const datas = useEditor(useShallow((s) => s.nodes.map((n) => n.data)));
  const variables = useMemo(() => {
    if (!node) return [];
    const nodes = ids.map((id, i) => ({
      id,
      type: types[i] ?? "",
      position: { x: 0, y: 0 },
      data: datas[i] ?? {},
    }));
    const doc = toDocument(nodes, edges);
    return upstreamVariables(doc.nodes, doc.edges, blocks, node.id, systemVariables);
  }, [node, ids, types, datas, edges, blocks, systemVariables]);

  if (selected.length > 1) {
    return (
      <section className="inspector" aria-label="Block settings">
        <h2 className="panel-title">{selected.length} blocks selected</h2>
        {!locked && <SelectionActions deleteLabel="Delete" />}
        <p className="muted small">Ctrl/Cmd+C copies them, also into another flow.</p>
      </section>
    );
  }
  if (!node) {
    return (
      <section className="inspector" aria-label="Block settings">
        <h2 className="panel-title">Block settings</h2>
        <p className="muted">Select a block to change what it does.</p>
        <FlowDescription disabled={locked} />
        <p className="muted small">
          Drag from a block’s output (the dots at its bottom) to another block to connect them.
          Shift-drag selects several. Delete removes, Ctrl/Cmd+D duplicates, Ctrl/Cmd+Z undoes.
        </p>
      </section>
    );
  }
  const Form = block ? (CUSTOM_FORMS[block.type] ?? GeneratedForm) : null;
  const general = problems.filter((p) => !p.field.startsWith("data."));
  const ctx: FormContext = { nodeId: node.id, problems, disabled: locked, variables };
  return (
    <section className="inspector" aria-label="Block settings">
      <div className="inspector-head">
        <BlockIcon type={node.type} />
        <h2 className="panel-title">{block?.label ?? node.type}</h2>
        <code className="muted small">{node.id}</code>
      </div>
      {block && <p className="muted small">{block.description}</p>}
      <FieldProblems id={`inspector-${node.id}-problems`} problems={general} />
      {Form && block ? (
        <Form
          block={block}
          data={node.data}
          ctx={ctx}
          onChange={(data, key) => editorStore.getState().updateNodeData(node.id, data, key)}
        />
      ) : (
        <p className="error">
          This block type is unknown to the server: delete it, or restore a version.
        </p>
      )}
      {block && <Connections nodeId={node.id} block={block} data={node.data} disabled={locked} />}
      {!locked && node.type !== "start" && <SelectionActions deleteLabel="Delete block" />}
    </section>
  );
}
