/** Block icons, bundled (no icon font or CDN). A block type the editor has no icon for gets the
 * generic one, so a new registry entry still shows. */

const PATHS: Record<string, string> = {
  start: "M8 5v14l11-7z",
  send_message: "M4 4h16v11H7l-3 3z",
  ask: "M12 3a7 7 0 0 0-7 7h3a4 4 0 1 1 4 4v3h3v-1.3A7 7 0 0 0 12 3zm-1.5 16h3v3h-3z",
  condition: "M12 2 2 12l10 10 10-10zm0 4 6 6-6 6-6-6z",
  log_event: "M4 19h16v2H4zM6 10h3v7H6zm5-5h3v12h-3zm5 8h3v4h-3z",
  handoff: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm0 2c-4 0-8 2-8 5v2h16v-2c0-3-4-5-8-5z",
  end: "M6 6h12v12H6z",
};
const GENERIC = "M4 4h16v16H4zm3 3v10h10V7z";

export function BlockIcon({ type }: { type: string }) {
  return (
    <svg className="block-icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
      <path d={PATHS[type] ?? GENERIC} fill="currentColor" />
    </svg>
  );
}
