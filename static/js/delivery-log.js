// The delivery log's live counts; the page works without this script ("select all" is app.js's).
(() => {
  const counts = document.getElementById("status-counts");
  if (counts) {
    const url = counts.dataset.refreshUrl;
    const every = (Number(counts.dataset.refreshSeconds) || 5) * 1000;
    const refresh = async () => {
      if (!document.hidden) {
        try {
          const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
          if (response.ok) {
            counts.innerHTML = await response.text();
            counts.dataset.refreshedAt = new Date().toISOString();
          }
        } catch {
          // The server is restarting or the network is down: try again next time.
        }
      }
      setTimeout(refresh, every);
    };
    setTimeout(refresh, every);
  }
})();
