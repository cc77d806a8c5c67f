/** Mounts the editor island: the Django template (templates/flows/editor.html) renders
 * `<div id="flow-editor">` and the config as `json_script` "editor-config". */

import "@xyflow/react/dist/base.css";
import "./editor.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import type { EditorConfig } from "./types";

const root = document.getElementById("flow-editor");
const configElement = document.getElementById("editor-config");
if (root && configElement?.textContent) {
  const config = JSON.parse(configElement.textContent) as EditorConfig;
  createRoot(root).render(
    <StrictMode>
      <App config={config} />
    </StrictMode>,
  );
}
