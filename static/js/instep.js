/*
 * In-step mode: hold each incoming comment and reaction until the viewer's picture reaches the
 * moment it was made, so the room reacts to what this viewer is seeing. HLS puts every viewer
 * seconds behind the camera; without this, a reaction floats up before its moment is on screen.
 *
 * An event's `ts` (the server's publish time) is compared with the wall-clock time of the
 * picture on screen (player.js pictureTime(), also the server's clock), so the viewer's own
 * clock plays no part. Events are released in order (a removal never overtakes its comment);
 * state snapshots (hello, viewers, presence, status) are never held. When the picture's time is
 * unknown (no video, replay, native HLS), nothing is held. Never longer than MAX_HOLD_MS.
 *
 * Switchable (the checkbox on the player, remembered in localStorage) and measurable:
 * window.LiveVideoInStep.stats() gives the lag applied to the last event and on average, and
 * the viewer's latency behind the camera.
 */
(function () {
  "use strict";

  const HELD_TYPES = new Set(["comment.created", "comment.removed", "comment.pinned", "reactions"]);
  const MAX_HOLD_MS = 30000;
  const STORAGE_KEY = "livevideo.inStep";
  const REPORT_EVERY_MS = 15000; // the studio shows the audience's latency from these reports

  const box = document.querySelector("[data-instep]");
  const toggle = document.querySelector("[data-instep-toggle]");
  const lagLabel = document.querySelector("[data-instep-lag]");

  let enabled = localStorage.getItem(STORAGE_KEY) !== "off";
  const queue = []; // [{event, apply, until}] in arrival order
  let timer = null;
  const stats = { enabled: enabled, held: 0, lastLagMs: 0, totalLagMs: 0, latencyMs: null };

  function pictureTime() {
    const player = window.LiveVideoPlayer;
    return player ? player.pictureTime() : null;
  }

  function release() {
    clearTimeout(timer);
    timer = null;
    const now = Date.now();
    const picture = pictureTime();
    while (queue.length) {
      const head = queue[0];
      const reached = picture !== null && picture >= head.event.ts;
      if (enabled && !reached && now < head.until) break;
      queue.shift();
      const lag = now - head.arrived;
      stats.lastLagMs = lag;
      stats.totalLagMs += lag;
      stats.held += 1;
      head.apply(head.event);
    }
    if (queue.length) timer = setTimeout(release, 100);
  }

  /** watch.js's gate: apply `event` now, or once the picture reaches it. */
  function apply(event, applyNow) {
    const picture = pictureTime();
    const hold =
      enabled &&
      HELD_TYPES.has(event.type) &&
      typeof event.ts === "number" &&
      ((picture !== null && picture < event.ts) || queue.length > 0);
    if (!hold) return applyNow(event);
    queue.push({ event: event, apply: applyNow, arrived: Date.now(), until: Date.now() + MAX_HOLD_MS });
    if (!timer) timer = setTimeout(release, 100);
  }

  function showLatency() {
    const picture = pictureTime();
    stats.latencyMs = picture === null ? null : Date.now() - picture;
    if (!box) return;
    box.hidden = picture === null;
    if (picture !== null) lagLabel.textContent = "· " + (stats.latencyMs / 1000).toFixed(1) + " s behind live";
  }

  if (toggle) {
    toggle.checked = enabled;
    toggle.addEventListener("change", () => {
      enabled = toggle.checked;
      stats.enabled = enabled;
      localStorage.setItem(STORAGE_KEY, enabled ? "on" : "off");
      release();
    });
  }
  setInterval(showLatency, 1000);

  function report() {
    const watch = window.LiveVideoWatch;
    if (stats.latencyMs === null || !watch) return;
    const latencyMs = Math.max(0, Math.round(stats.latencyMs));
    window.LiveVideoApi.request("/api/broadcasts/" + watch.broadcastId + "/latency/", {
      method: "POST",
      body: JSON.stringify({ latency_ms: latencyMs }),
    }).catch(() => {});
  }
  setInterval(report, REPORT_EVERY_MS);

  window.LiveVideoInStep = {
    apply: apply,
    stats: () => Object.assign({ averageLagMs: stats.held ? stats.totalLagMs / stats.held : 0 }, stats),
    setEnabled: (on) => {
      if (toggle) toggle.checked = on;
      enabled = on;
      stats.enabled = on;
      release();
    },
  };
})();
