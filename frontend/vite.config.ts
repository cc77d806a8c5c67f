/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Django serves the build through django-vite from the manifest (docs/adr/0008-flow-editor.md).
// `base` is STATIC_URL + the prefix the built files live under in STATICFILES_DIRS.
export default defineConfig({
  plugins: [react()],
  base: "/static/editor/",
  build: {
    manifest: "manifest.json",
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: true,
    // elkjs (Tidy up) is one 1.4 MB chunk, loaded only when someone tidies up.
    chunkSizeWarningLimit: 1500,
    rolldownOptions: { input: "src/main.tsx" },
  },
  server: {
    // Only `make dev EDITOR_DEV_SERVER=1` starts it; Django then loads the modules from here.
    host: "127.0.0.1",
    port: 5173,
    strictPort: true,
    origin: "http://127.0.0.1:5173",
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
