/*
 * The studio's video panel: reveal the stream key, and show the audience's latency behind the
 * camera (the average the viewers' players report, GET .../latency/), refreshed every 5 s.
 */
(function () {
  "use strict";

  const panel = document.querySelector("[data-studio-video]");
  const studio = document.querySelector("[data-studio]");
  if (!panel || !studio) return;

  const key = panel.querySelector("[data-stream-key]");
  const show = panel.querySelector("[data-stream-key-show]");
  show.addEventListener("click", () => {
    const hidden = key.type === "password";
    key.type = hidden ? "text" : "password";
    show.textContent = hidden ? "Hide" : "Show";
  });

  const latency = panel.querySelector("[data-audience-latency]");
  async function refresh() {
    try {
      const response = await fetch("/api/broadcasts/" + studio.dataset.broadcastId + "/latency/", {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) return;
      const body = await response.json();
      latency.textContent =
        body.average_ms === null
          ? "–"
          : (body.average_ms / 1000).toFixed(1) + " s (" + body.reports + " reports in 30 s)";
    } catch (error) {
      // offline for a moment: the next refresh tries again
    }
  }
  refresh();
  setInterval(refresh, 5000);
})();
