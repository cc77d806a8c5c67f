// The inbox's live parts: every 1.5 s (while the tab is shown) ask the server whether the
// list or the conversation changed since it was drawn; 204 means no, otherwise the part comes
// back drawn again. The pages work without this script (a reload shows the same).
(() => {
  const container = document.querySelector("[data-live]");
  if (!container) return;
  const every = (Number(container.dataset.pollSeconds) || 1.5) * 1000;
  const base = container.dataset.live || "?";
  const url = (cursor) =>
    location.pathname + base + (base.length > 1 ? "&" : "") + "live=" + encodeURIComponent(cursor);

  const replyBox = document.getElementById("reply-box");
  const syncReplyBox = (part) => {
    if (!replyBox) return;
    const open = part.dataset.replyOpen === "1";
    const text = replyBox.querySelector("textarea");
    const send = replyBox.querySelector("button[type=submit]");
    if (!text || !send || text.disabled === !open) return;
    text.disabled = !open;
    send.disabled = !open;
    const note = document.getElementById("reply-window");
    if (note) {
      note.textContent = open
        ? "They wrote again: you can answer."
        : "The time to answer has ended: Messenger lets a Page answer within 24 hours of the person's last message.";
    }
  };

  const poll = async () => {
    const part = container.querySelector(".live-part");
    if (!document.hidden && part) {
      try {
        const response = await fetch(url(part.dataset.cursor || ""), {
          credentials: "same-origin",
          cache: "no-store",
        });
        if (response.status === 200) {
          const next = document.createElement("div");
          next.innerHTML = await response.text();
          const fresh = next.querySelector(".live-part");
          if (fresh) {
            part.replaceWith(fresh);
            syncReplyBox(fresh);
            container.dataset.refreshedAt = new Date().toISOString();
          }
        }
      } catch {
        // The server is restarting or the network is down: try again next time.
      }
    }
    setTimeout(poll, every);
  };
  setTimeout(poll, every);
})();
