/** The flow editor: top bar, palette, canvas, inspector (or test chat, or versions) and the
 * problems list. It loads the flow, the block registry and the catalog from the REST API and
 * keeps the draft saved. */

import { ReactFlowProvider, useReactFlow } from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Api, ApiError } from "./api";
import { Canvas } from "./components/Canvas";
import { ConflictDialog, PublishDialog } from "./components/Dialogs";
import { Inspector } from "./components/Inspector";
import { Palette } from "./components/Palette";
import { PhoneOutline } from "./components/PhoneOutline";
import { ProblemsPanel } from "./components/ProblemsPanel";
import { ResultsBar, defaultRange, type ResultsRange } from "./components/ResultsBar";
import { TestChatPanel } from "./components/TestChatPanel";
import { TopBar, type Panel } from "./components/TopBar";
import { VersionsPanel } from "./components/VersionsPanel";
import { tidyPositions, type Size } from "./graph/layout";
import { usePhone } from "./phone";
import { statsQuery } from "./graph/results";
import { Autosave, settingsOf, type SaveState } from "./store/autosave";
import { editorStore, toDocument, useEditor } from "./store/editor";
import type { ConnectedPage, EditorConfig, Flow, FlowVersion, Problem } from "./types";

/** A message for everyone: read out by screen readers, shown for a few seconds. */
function useLiveRegion(): [string, (text: string) => void] {
  const [text, setText] = useState("");
  const timer = useRef<number | null>(null);
  const announce = useCallback((next: string) => {
    setText("");
    if (timer.current !== null) window.clearTimeout(timer.current);
    window.setTimeout(() => setText(next), 20);
    timer.current = window.setTimeout(() => setText(""), 6000);
  }, []);
  return [text, announce];
}

function Editor({ config, api }: { config: EditorConfig; api: Api }) {
  const [loadError, setLoadError] = useState("");
  const [loaded, setLoaded] = useState(false);
  const [pages, setPages] = useState<ConnectedPage[]>([]);
  const [versions, setVersions] = useState<FlowVersion[]>([]);
  const [saveState, setSaveState] = useState<SaveState>({ kind: "saved" });
  const [panel, setPanel] = useState<Panel>("inspector");
  const [publishing, setPublishing] = useState<{
    problems: Problem[] | null;
    busy: boolean;
    error: string;
  } | null>(null);
  const [message, announce] = useLiveRegion();
  const [resultsOn, setResultsOn] = useState(false);
  const [range, setRange] = useState<ResultsRange>(() => defaultRange());
  // What the last answer was for (the query), and its error: loading until it is this one.
  const [resultsState, setResultsState] = useState({ query: "", error: "" });
  const resultsQuery = statsQuery(range);
  const autosave = useRef<Autosave | null>(null);
  const flow = useReactFlow();
  const versionView = useEditor((s) => s.versionView);
  const comparing = useEditor((s) => s.diff);
  const pageId = useEditor((s) => s.settings.page);
  // On a phone the editor reads only: an outline beside a canvas that fits (no dragging,
  // wiring or forms on a touch screen); turned to a wider screen, editing comes back.
  const phone = usePhone();

  const loadVersions = useCallback(async () => {
    setVersions(await api.versions(config.flowId));
  }, [api, config.flowId]);

  // Load everything, then start saving.
  useEffect(() => {
    const run = { cancelled: false };
    const cancelled = () => run.cancelled;
    (async () => {
      // All at once (the page preloads the same URLs while this script loads).
      const [blocks, loadedFlow, loadedPages, loadedVersions, all, forTransport] =
        await Promise.all([
          api.blocks(),
          api.flow(config.flowId),
          api.pages(),
          api.versions(config.flowId),
          api.catalog(),
          api.catalog(config.pageTransport),
        ]);
      if (cancelled()) return;
      const store = editorStore.getState();
      store.load({
        blocks,
        document: loadedFlow.document,
        settings: settingsOf(loadedFlow),
        readOnly: !config.canEdit,
      });
      store.setCatalog({
        all: all.events,
        forTransport,
        transport: config.pageTransport,
        currencies: config.currencies,
      });
      setPages(loadedPages);
      setVersions(loadedVersions);
      const saver = new Autosave(
        editorStore,
        api,
        config.flowId,
        loadedFlow.revision,
        setSaveState,
      );
      autosave.current = saver;
      if (config.canEdit) saver.start();
      void saver.validate(0);
      setLoaded(true);
    })().catch((error: unknown) => {
      setLoadError(error instanceof Error ? error.message : String(error));
    });
    return () => {
      run.cancelled = true;
      autosave.current?.stop();
    };
  }, [api, config]);

  useEffect(() => {
    if (loaded) editorStore.getState().setReadOnly(!config.canEdit || phone);
  }, [loaded, phone, config.canEdit]);

  // A new Page may mean another transport: reload what its log-event blocks can carry.
  const transportRef = useRef<string | null>(null);
  useEffect(() => {
    const page = pages.find((p) => p.id === pageId);
    if (!page || !loaded) return;
    if (transportRef.current === null) {
      transportRef.current = page.transport;
      return;
    }
    if (transportRef.current === page.transport) return;
    transportRef.current = page.transport;
    void Promise.all([api.catalog(), api.catalog(page.transport)]).then(([all, forTransport]) =>
      editorStore.getState().setCatalog({
        all: all.events,
        forTransport,
        transport: page.transport,
        currencies: config.currencies,
      }),
    );
  }, [pageId, pages, loaded, api, config.currencies]);

  // The Results overlay: fetch the funnel for the range and version chosen (the latest answer
  // wins), on the canvas shown; off, the canvas is editable again.
  useEffect(() => {
    if (!resultsOn) {
      editorStore.getState().setResults(null);
      return;
    }
    const run = { cancelled: false };
    api
      .stats(config.flowId, resultsQuery)
      .then((stats) => {
        if (run.cancelled) return;
        editorStore.getState().setResults(stats);
        setResultsState({ query: resultsQuery, error: "" });
      })
      .catch((error: unknown) => {
        if (run.cancelled) return;
        setResultsState({
          query: resultsQuery,
          error: error instanceof Error ? error.message : String(error),
        });
      });
    return () => {
      run.cancelled = true;
    };
  }, [resultsOn, resultsQuery, api, config.flowId, versionView]);

  // Leaving with unsaved changes asks first.
  useEffect(() => {
    const onLeave = (event: BeforeUnloadEvent) => {
      if (autosave.current?.hasUnsavedChanges()) {
        event.preventDefault();
      }
    };
    window.addEventListener("beforeunload", onLeave);
    return () => window.removeEventListener("beforeunload", onLeave);
  }, []);

  const flush = useCallback(async () => {
    await autosave.current?.flush();
  }, []);

  const onValidate = async () => {
    await flush();
    try {
      const result = await api.validate(config.flowId);
      editorStore.getState().setServerProblems(result.problems, editorStore.getState().changeCount);
      announce(
        result.valid
          ? `No errors${result.warnings ? `, ${result.warnings} warning${result.warnings === 1 ? "" : "s"}` : ""}: ready to publish.`
          : `${result.errors} error${result.errors === 1 ? "" : "s"} to fix before publishing.`,
      );
      document.querySelector<HTMLElement>(".problems")?.scrollIntoView({ block: "nearest" });
    } catch (error) {
      announce(error instanceof Error ? error.message : String(error));
    }
  };

  const onTidy = async () => {
    const { nodes, edges } = editorStore.getState();
    const sizes = new Map<string, Size>(
      nodes.map((n) => [
        n.id,
        { width: n.measured?.width ?? 240, height: n.measured?.height ?? 90 },
      ]),
    );
    const doc = toDocument(nodes, edges);
    const positions = await tidyPositions(doc.nodes, doc.edges, sizes);
    editorStore.getState().applyPositions(positions);
    window.requestAnimationFrame(
      () => void flow.fitView({ padding: 0.2, maxZoom: 1, duration: 200 }),
    );
  };

  const publish = async (note: string) => {
    setPublishing({ problems: null, busy: true, error: "" });
    await flush();
    const saver = autosave.current;
    if (!saver || saver.current.kind === "conflict" || saver.current.kind === "error") {
      setPublishing({
        problems: null,
        busy: false,
        error: "The draft is not saved: resolve that first.",
      });
      return;
    }
    try {
      const version = await api.publish(config.flowId, note, saver.revision);
      setPublishing(null);
      await loadVersions();
      announce(`Published version ${version.number}.`);
      void saver.validate();
    } catch (error) {
      if (error instanceof ApiError && Array.isArray(error.details.problems)) {
        const problems = error.details.problems as unknown as Problem[];
        editorStore.getState().setServerProblems(problems, editorStore.getState().changeCount);
        setPublishing({ problems, busy: false, error: error.message });
      } else {
        setPublishing({
          problems: null,
          busy: false,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  };

  const onLoadTheirs = async () => {
    const theirs: Flow = await api.flow(config.flowId);
    autosave.current?.loadTheirs(theirs);
    announce("Loaded the saved version. Undo brings yours back.");
  };

  const eventUrl = useMemo(
    () => (id: number) => config.eventUrlTemplate.replace("/0/", `/${id}/`),
    [config.eventUrlTemplate],
  );

  if (loadError) {
    return (
      <div className="editor-error" role="alert">
        <h1>The editor could not load this flow</h1>
        <p>{loadError}</p>
        <p>
          <a href={config.flowsUrl}>Back to flows</a>
        </p>
      </div>
    );
  }
  if (!loaded) {
    return (
      <div className="editor-loading" role="status">
        Loading the flow…
      </div>
    );
  }

  return (
    <div
      className={`editor${config.canEdit && !phone ? "" : " is-readonly"}${phone ? " is-phone" : ""}`}
    >
      <TopBar
        phone={phone}
        saveState={saveState}
        pages={pages}
        panel={panel}
        setPanel={setPanel}
        canPublish={config.canPublish && !phone}
        onValidate={() => void onValidate()}
        onPublish={() => setPublishing({ problems: null, busy: false, error: "" })}
        onTidy={() => void onTidy()}
        flowsUrl={config.flowsUrl}
        resultsOn={resultsOn}
        onResults={() => {
          if (!resultsOn) void flush();
          setResultsOn(!resultsOn);
        }}
      />
      {phone && (
        <p className="phone-notice" role="note">
          {config.canEdit
            ? "Editing needs a wider screen: open this flow on a tablet or a computer. Here you can read it step by step, try it with Test and see its Results."
            : "Read it step by step, try it with Test and see its Results."}
        </p>
      )}
      <div className="editor-body">
        {config.canEdit && !phone && <Palette />}
        <div className="editor-centre">
          {versionView && (
            <div className="version-banner" role="status">
              {comparing && versionView.against
                ? `Changes in ${versionView.against} since version ${versionView.number}: ${comparing.counts.added} added, ${comparing.counts.changed} changed, ${comparing.counts.removed} removed. Read-only.`
                : `Version ${versionView.number}, read-only.`}{" "}
              <button
                type="button"
                className="link"
                onClick={() => editorStore.getState().showVersion(null, false)}
              >
                Back to the draft
              </button>
            </div>
          )}
          {resultsOn && (
            <ResultsBar
              range={range}
              setRange={setRange}
              versions={versions}
              loading={resultsState.query !== resultsQuery}
              error={resultsState.query === resultsQuery ? resultsState.error : ""}
              onClose={() => setResultsOn(false)}
            />
          )}
          <Canvas />
          <ProblemsPanel publishHere={config.canPublish && !phone} />
        </div>
        <div className="editor-side">
          {panel === "inspector" &&
            (phone ? <PhoneOutline /> : <Inspector systemVariables={config.systemVariables} />)}
          {panel === "test" && (
            <TestChatPanel
              api={api}
              flowId={config.flowId}
              versions={versions}
              beforeStart={flush}
              eventUrl={eventUrl}
            />
          )}
          {panel === "versions" && (
            <VersionsPanel
              api={api}
              flowId={config.flowId}
              versions={versions}
              canEdit={config.canEdit && !phone}
              beforeRestore={async () => {
                await flush();
                return autosave.current?.revision ?? 0;
              }}
              onRestored={(restored, number) => {
                autosave.current?.adopt(restored, true);
                announce(
                  `Version ${number} is in the draft now. Undo brings the previous draft back.`,
                );
              }}
            />
          )}
        </div>
      </div>
      <div className="visually-hidden" role="status" aria-live="polite">
        {message}
      </div>
      {message && (
        <div className="toast" aria-hidden="true">
          {message}
        </div>
      )}
      {publishing && (
        <PublishDialog
          problems={publishing.problems}
          busy={publishing.busy}
          error={publishing.error}
          onClose={() => setPublishing(null)}
          onPublish={(note) => void publish(note)}
        />
      )}
      {saveState.kind === "conflict" && (
        <ConflictDialog
          conflict={saveState.conflict}
          onLoadTheirs={() => void onLoadTheirs()}
          onKeepMine={() => void autosave.current?.keepMine()}
        />
      )}
    </div>
  );
}

export function App({ config }: { config: EditorConfig }) {
  const api = useMemo(() => new Api(config.apiRoot, config.tenantSlug, config.csrfToken), [config]);
  return (
    <ReactFlowProvider>
      <Editor config={config} api={api} />
    </ReactFlowProvider>
  );
}
