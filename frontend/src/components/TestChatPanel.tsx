/** The test chat, docked beside the canvas: talk to the draft (or a version) as a Messenger
 * user would, through the same interpreter, without Facebook. The block the conversation is
 * on is lit on the canvas, and the path it took; beside the chat are the variables it
 * gathered, the blocks each turn ran and the test events it logged. */

import { useEffect, useRef, useState, type SyntheticEvent } from "react";
import { ApiError, type Api } from "../api";
import { editorStore } from "../store/editor";
import type { FlowVersion, Json, JsonObject } from "../types";
import { useFocusNode } from "./ProblemsPanel";

interface Reply {
  node_id: string;
  text: string;
  quick_replies: { title: string; payload: string }[];
  buttons: { type: string; title: string; payload: string }[];
}

interface ChatEvent {
  id: number;
  event: string;
  params: Record<string, Json>;
  status: string;
  value: string | null;
  currency: string;
  node_id: string;
  new: boolean;
}

interface PathStep {
  node_id: string;
  type: string;
  label: string;
}

export interface Turn {
  session: number;
  version: string | number;
  replies: Reply[];
  path: PathStep[];
  variables: Record<string, string>;
  events: ChatEvent[];
  handoff: { note: string } | null;
  state: { node_id: string | null; status: string };
}

type Line =
  | { from: "bot"; reply: Reply }
  | { from: "person"; text: string }
  | { from: "notice"; text: string; kind: "" | "handoff" | "error" };

const STATUS: Record<string, string> = {
  waiting: "Waiting for your answer",
  active: "Running",
  ended: "The conversation ended",
  handed_off: "Handed off to a person",
};

export function statusLine(turn: Turn | null): string {
  if (!turn) return "Not started";
  const version = turn.version === "draft" ? "draft" : `version ${turn.version}`;
  return `${STATUS[turn.state.status] ?? turn.state.status} · ${version}`;
}

/** An event's parameters and value in one line, by key (jsonb keeps no order of its own). */
export function eventFacts(event: ChatEvent): string {
  const facts = Object.entries(event.params)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
  if (event.value !== null) facts.push(`value: ${event.value} ${event.currency}`.trim());
  return facts.join(" · ");
}

/** The lines a turn adds to the conversation, notices included. */
export function turnLines(turn: Turn): Line[] {
  const lines: Line[] = turn.replies.map((reply) => ({ from: "bot", reply }));
  if (turn.handoff) {
    lines.push({
      from: "notice",
      text: `Handed off to your team: ${turn.handoff.note}`,
      kind: "handoff",
    });
  } else if (turn.state.status === "handed_off" && !turn.replies.length) {
    lines.push({
      from: "notice",
      text:
        "The bot stays quiet: this conversation is with your team now. Start again to test it " +
        "from the beginning.",
      kind: "",
    });
  }
  if (turn.state.status === "ended") {
    lines.push({
      from: "notice",
      text: "The conversation ended. Start again to talk to the bot from the beginning.",
      kind: "",
    });
  }
  return lines;
}

function problemsText(error: ApiError): string {
  const problems = Array.isArray(error.details.problems) ? error.details.problems : [];
  const lines = problems.flatMap((p) => {
    if (!p || typeof p !== "object" || Array.isArray(p) || p.severity !== "error") return [];
    const message = typeof p.message === "string" ? p.message : "";
    return [typeof p.node_id === "string" ? `${p.node_id}: ${message}` : message];
  });
  return [error.message, ...lines].join("\n");
}

export function TestChatPanel({
  api,
  flowId,
  versions,
  beforeStart,
  eventUrl,
}: {
  api: Api;
  flowId: number;
  versions: FlowVersion[];
  beforeStart: () => Promise<void>;
  eventUrl: (id: number) => string;
}) {
  const [version, setVersion] = useState("draft");
  const [lines, setLines] = useState<Line[]>([]);
  const [turn, setTurn] = useState<Turn | null>(null);
  const [path, setPath] = useState<{ step: PathStep; latest: boolean }[]>([]);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const log = useRef<HTMLDivElement>(null);
  const box = useRef<HTMLInputElement>(null);
  const focusNode = useFocusNode();
  const open = turn !== null && turn.state.status !== "ended";

  useEffect(() => {
    log.current?.scrollTo({ top: log.current.scrollHeight });
  }, [lines]);
  useEffect(() => () => editorStore.getState().setChat({ current: null, path: [] }), []);

  const show = (next: Turn, fresh: boolean) => {
    setTurn(next);
    const steps = [
      ...(fresh ? [] : path.map((p) => ({ ...p, latest: false }))),
      ...next.path.map((step) => ({ step, latest: true })),
    ];
    setPath(steps);
    editorStore.getState().setChat({
      current: next.state.status === "ended" ? null : next.state.node_id,
      path: steps.map((p) => p.step.node_id),
    });
    setLines((old) => [...old, ...turnLines(next)]);
  };

  const call = async (body: Record<string, Json>, fresh = false) => {
    setBusy(true);
    try {
      const answer = await api.testChat(flowId, body);
      if (body.action === "reset") {
        setTurn(null);
        setPath([]);
        editorStore.getState().setChat({ current: null, path: [] });
      } else {
        show(answer as unknown as Turn, fresh);
      }
    } catch (error) {
      const message =
        error instanceof ApiError
          ? problemsText(error)
          : `Could not reach the server: ${String(error)}`;
      setLines((old) => [...old, { from: "notice", text: message, kind: "error" }]);
      if (error instanceof ApiError && ["not_found", "test_chat_ended"].includes(error.code)) {
        setTurn(null);
      }
    } finally {
      setBusy(false);
      window.requestAnimationFrame(() => box.current?.focus());
    }
  };

  const start = async (chosen = version) => {
    if (chosen === "draft") await beforeStart();
    const label = chosen === "draft" ? "the draft" : `version ${chosen}`;
    setLines([{ from: "notice", text: `Test chat with ${label}.`, kind: "" }]);
    await call({ action: "start", version: chosen === "draft" ? "draft" : Number(chosen) }, true);
  };

  const reset = () => {
    setLines([{ from: "notice", text: "Reset. Start again to talk to the bot.", kind: "" }]);
    void call({ action: "reset" });
  };

  const say = (body: JsonObject, shown: string) => {
    if (!turn || busy) return;
    setLines((old) => [...old, { from: "person", text: shown }]);
    void call({ action: "message", session: turn.session, ...body });
  };

  const send = (event: SyntheticEvent) => {
    event.preventDefault();
    const typed = text.trim();
    if (!typed) return;
    setText("");
    say({ kind: "text", text: typed }, typed);
  };

  const lastBot = [...lines].reverse().find((l) => l.from !== "notice");
  const chips = open && lastBot?.from === "bot" ? lastBot.reply.quick_replies : [];
  const variables = turn ? Object.keys(turn.variables).sort() : [];

  return (
    <section className="side-panel test-chat-panel" aria-label="Test chat">
      <h2 className="panel-title">Test chat</h2>
      <p className="muted small">
        Talk to the flow as a Messenger user would. Nothing goes to Facebook; events it logs are
        test events.
      </p>
      <div className="chat-controls">
        <label htmlFor="chat-version" className="visually-hidden">
          Run
        </label>
        <select
          id="chat-version"
          value={version}
          onChange={(e) => {
            setVersion(e.target.value);
            if (turn) void start(e.target.value);
          }}
        >
          <option value="draft">Draft</option>
          {versions.map((v) => (
            <option key={v.number} value={v.number}>
              Version {v.number}
            </option>
          ))}
        </select>
        <button type="button" className="primary" onClick={() => void start()} disabled={busy}>
          {turn ? "Start again" : "Start"}
        </button>
        <button type="button" onClick={reset} disabled={busy || !turn}>
          Reset
        </button>
      </div>
      <p className="chat-status muted small" role="status">
        {statusLine(turn)}
      </p>
      <div className="chat-log" ref={log} role="log" aria-label="Conversation">
        {lines.length === 0 && <p className="muted small">Press Start to begin.</p>}
        {lines.map((line, index) =>
          line.from === "bot" ? (
            <div className="bubble bot" key={index}>
              {line.reply.text}
              {line.reply.buttons.length > 0 && (
                <div className="bubble-buttons">
                  {line.reply.buttons.map((b, i) =>
                    b.type === "web_url" ? (
                      <span key={i} className="chip">
                        {b.title} ↗
                      </span>
                    ) : (
                      <button
                        key={i}
                        type="button"
                        className="chip"
                        disabled={busy || !open}
                        onClick={() =>
                          say({ kind: "postback", text: b.title, payload: b.payload }, b.title)
                        }
                      >
                        {b.title}
                      </button>
                    ),
                  )}
                </div>
              )}
            </div>
          ) : line.from === "person" ? (
            <div className="bubble person" key={index}>
              {line.text}
            </div>
          ) : (
            <div className={`chat-notice ${line.kind}`.trim()} key={index}>
              {line.text}
            </div>
          ),
        )}
      </div>
      {chips.length > 0 && (
        <div className="chips" role="group" aria-label="Quick replies">
          {chips.map((chip, i) => (
            <button
              key={i}
              type="button"
              className="chip"
              disabled={busy}
              onClick={() =>
                say({ kind: "quick_reply", text: chip.title, payload: chip.payload }, chip.title)
              }
            >
              {chip.title}
            </button>
          ))}
        </div>
      )}
      <form className="chat-input" onSubmit={send}>
        <input
          ref={box}
          type="text"
          aria-label="Your message"
          placeholder={open ? "Type a message…" : "Start the chat first"}
          value={text}
          maxLength={2000}
          disabled={!open || busy}
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit" disabled={!open || busy || !text.trim()}>
          Send
        </button>
      </form>
      <div className="chat-facts">
        <h3>Variables</h3>
        {variables.length === 0 ? (
          <p className="muted small">No variables yet.</p>
        ) : (
          <dl aria-label="Variables">
            {variables.map((name) => (
              <div key={name}>
                <dt>{name}</dt>
                <dd>{turn?.variables[name] || "—"}</dd>
              </div>
            ))}
          </dl>
        )}
        <h3>Path</h3>
        {path.length === 0 ? (
          <p className="muted small">No blocks run yet.</p>
        ) : (
          <ol className="chat-path" aria-label="Path">
            {path.map(({ step, latest }, i) => (
              <li key={i} className={latest ? "latest" : undefined}>
                <button type="button" className="link" onClick={() => focusNode(step.node_id)}>
                  {step.label}
                </button>{" "}
                <code>{step.node_id}</code>
              </li>
            ))}
          </ol>
        )}
        <h3>Events logged</h3>
        {!turn || turn.events.length === 0 ? (
          <p className="muted small">No events logged yet.</p>
        ) : (
          <ul className="chat-events" aria-label="Events logged">
            {turn.events.map((e) => (
              <li key={e.id} className={e.new ? "is-new" : undefined}>
                <a href={eventUrl(e.id)}>{e.event}</a> <span className="tag">test</span>{" "}
                <span className="tag">{e.status}</span>
                <br />
                <span className="muted small">{eventFacts(e)}</span>{" "}
                <span className="muted small">from {e.node_id}</span>
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}
