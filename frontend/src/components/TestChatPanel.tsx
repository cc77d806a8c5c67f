/** The test chat, docked beside the canvas: talk to the draft (or a version) as a Messenger
 * user would, through the same interpreter, without Facebook. The block the conversation is
 * on is lit on the canvas, and the path it took. */

import { useEffect, useRef, useState, type SyntheticEvent } from "react";
import { ApiError, type Api } from "../api";
import { editorStore } from "../store/editor";
import type { FlowVersion, Json, JsonObject } from "../types";

interface Reply {
  node_id: string;
  text: string;
  quick_replies: { title: string; payload: string }[];
  buttons: { type: string; title: string; payload: string }[];
}

interface ChatEvent {
  id: number;
  event: string;
  status: string;
  value: string | null;
  currency: string;
  node_id: string;
  new: boolean;
}

interface Turn {
  session: number;
  replies: Reply[];
  path: { node_id: string; label: string }[];
  variables: Record<string, string>;
  events: ChatEvent[];
  handoff: { note: string } | null;
  state: { node_id: string | null; status: string };
}

type Line =
  | { from: "bot"; reply: Reply }
  | { from: "person"; text: string }
  | { from: "notice"; text: string };

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
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const path = useRef<string[]>([]);
  const log = useRef<HTMLDivElement>(null);

  useEffect(() => {
    log.current?.scrollTo({ top: log.current.scrollHeight });
  }, [lines]);
  useEffect(() => () => editorStore.getState().setChat({ current: null, path: [] }), []);

  const apply = (body: JsonObject | undefined) => {
    const next = body as unknown as Turn;
    setTurn(next);
    path.current = [...path.current, ...next.path.map((p) => p.node_id)];
    editorStore.getState().setChat({ current: next.state.node_id, path: path.current });
    const added: Line[] = next.replies.map((reply) => ({ from: "bot", reply }));
    if (next.handoff)
      added.push({ from: "notice", text: `Handed to a person. Note: ${next.handoff.note || "—"}` });
    if (next.state.status === "ended")
      added.push({ from: "notice", text: "The conversation ended." });
    setLines((old) => [...old, ...added]);
  };

  const call = async (body: Record<string, Json>, person?: string) => {
    setBusy(true);
    setError("");
    if (person !== undefined) setLines((old) => [...old, { from: "person", text: person }]);
    try {
      apply(await api.testChat(flowId, body));
    } catch (e) {
      if (e instanceof ApiError) {
        const problems = Array.isArray(e.details.problems) ? e.details.problems.length : 0;
        setError(problems ? `${e.message} See Problems.` : e.message);
      } else setError(String(e));
    } finally {
      setBusy(false);
    }
  };

  const start = async () => {
    if (version === "draft") await beforeStart();
    path.current = [];
    setLines([]);
    setTurn(null);
    await call({ action: "start", version: version === "draft" ? "draft" : Number(version) });
  };

  const reset = async () => {
    setBusy(true);
    try {
      await api.testChat(flowId, { action: "reset" });
    } catch {
      // Nothing open: it is reset all the same.
    }
    setBusy(false);
    setTurn(null);
    setLines([]);
    path.current = [];
    editorStore.getState().setChat({ current: null, path: [] });
  };

  const send = (event: SyntheticEvent) => {
    event.preventDefault();
    if (!text.trim() || !turn) return;
    const typed = text;
    setText("");
    void call({ action: "message", session: turn.session, kind: "text", text: typed }, typed);
  };

  const press = (kind: "quick_reply" | "postback", title: string, payload: string) => {
    if (!turn) return;
    void call({ action: "message", session: turn.session, kind, text: title, payload }, title);
  };

  const last = [...lines].reverse().find((l) => l.from === "bot");
  const chips =
    turn && last?.from === "bot" && turn.state.status === "waiting" ? last.reply.quick_replies : [];
  const open = turn !== null && (turn.state.status === "waiting" || turn.state.status === "active");

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
        <select id="chat-version" value={version} onChange={(e) => setVersion(e.target.value)}>
          <option value="draft">Draft</option>
          {versions.map((v) => (
            <option key={v.number} value={v.number}>
              Version {v.number}
            </option>
          ))}
        </select>
        <button type="button" className="primary" onClick={() => void start()} disabled={busy}>
          {turn ? "Restart" : "Start"}
        </button>
        <button type="button" onClick={() => void reset()} disabled={busy || !turn}>
          Reset
        </button>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="chat-log" ref={log} role="log" aria-label="Conversation" aria-live="polite">
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
                        onClick={() => press("postback", b.title, b.payload)}
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
            <div className="chat-notice" key={index}>
              {line.text}
            </div>
          ),
        )}
      </div>
      {chips.length > 0 && (
        <div className="chips" aria-label="Quick replies">
          {chips.map((chip, i) => (
            <button
              key={i}
              type="button"
              className="chip"
              disabled={busy}
              onClick={() => press("quick_reply", chip.title, chip.payload)}
            >
              {chip.title}
            </button>
          ))}
        </div>
      )}
      <form className="chat-input" onSubmit={send}>
        <input
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
      {turn && (
        <div className="chat-facts">
          <h3>Variables</h3>
          {Object.keys(turn.variables).length === 0 ? (
            <p className="muted small">None yet.</p>
          ) : (
            <dl>
              {Object.entries(turn.variables).map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>{v}</dd>
                </div>
              ))}
            </dl>
          )}
          <h3>Events logged</h3>
          {turn.events.length === 0 ? (
            <p className="muted small">None yet.</p>
          ) : (
            <ul>
              {turn.events.map((e) => (
                <li key={e.id} className={e.new ? "is-new" : undefined}>
                  <a href={eventUrl(e.id)}>{e.event}</a>
                  {e.value ? ` · ${e.value} ${e.currency}` : ""} ·{" "}
                  <span className="muted">{e.status}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
