/*
 * The studio.
 *
 * Everywhere: forms with data-confirm="Question?" ask before submitting (going live, ending,
 * removing, banning). Without JavaScript they simply submit.
 *
 * On a broadcast's page ([data-studio]): moderation forms (data-moderate) post in the
 * background and show the server's message, so the live panel keeps its chart; the live panel
 * follows the real-time stream once the template hands realtime.js's connect() to
 * LiveVideoStudio.start(connect). User text is only ever set with textContent.
 */
(function () {
  "use strict";

  function confirmed(form) {
    return !form.dataset.confirm || window.confirm(form.dataset.confirm);
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !form.matches("[data-moderate]") && !confirmed(form)) event.preventDefault();
  });

  const root = document.querySelector("[data-studio]");
  if (!root) return;

  const baseUrl = root.dataset.baseUrl;
  const broadcasterId = Number(root.dataset.broadcasterId);
  const commentList = root.querySelector("[data-comment-list]");
  const commentsEmpty = root.querySelector("[data-comments-empty]");
  const template = document.getElementById("studio-comment-template");
  const toast = root.querySelector("[data-toast]");
  // The chart's sampling interval; a page (or a test) may set LiveVideoStudioOptions first.
  const SAMPLE_MS = (window.LiveVideoStudioOptions || {}).sampleMs || 5000;
  const MAX_SAMPLES = 240; // 20 minutes at one sample per 5 s
  const CONNECTION_LABELS = {
    connecting: "Connecting…",
    live: "Live updates",
    reconnecting: "Reconnecting…",
    offline: "Offline",
  };
  const STATUS_LABELS = { scheduled: "Upcoming", live: "Live", ended: "Ended" };

  // --- Moderation ---------------------------------------------------------------------------

  let toastTimer = null;
  function showToast(message, isError) {
    toast.textContent = message;
    toast.classList.toggle("toast-error", Boolean(isError));
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (toast.hidden = true), 6000);
  }

  /** Re-render the moderation sections (pinned, bans, audit) from a fresh copy of the page. */
  async function refreshSections() {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    root.querySelectorAll("[data-section]").forEach((section) => {
      const next = fresh.querySelector('[data-section="' + section.dataset.section + '"]');
      if (next) section.replaceWith(document.importNode(next, true));
    });
    window.LiveVideoTimes.localize(root);
  }

  root.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-moderate]");
    if (!form) return;
    event.preventDefault();
    if (!confirmed(form)) return;
    // Read the form first: a disabled submitter (and its name=value) is left out of FormData.
    const body = new FormData(form, event.submitter);
    const buttons = form.querySelectorAll("button");
    buttons.forEach((button) => (button.disabled = true));
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: body,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const answer = await response.json().catch(() => ({}));
      showToast(answer.message || "Something went wrong (" + response.status + ").", !response.ok);
      if (response.ok) {
        if (form.action.endsWith("/remove/")) removeComment({ id: commentIdOf(form) });
        await refreshSections();
      }
    } catch (_) {
      showToast("Could not reach the server. Check your connection and try again.", true);
    } finally {
      buttons.forEach((button) => (button.disabled = false));
    }
  });

  function commentIdOf(element) {
    const row = element.closest("[data-comment-id]");
    return row ? Number(row.dataset.commentId) : null;
  }

  // --- Comments -----------------------------------------------------------------------------

  function appendComment(comment) {
    if (commentList.querySelector('[data-comment-id="' + Number(comment.id) + '"]')) return;
    const row = template.content.firstElementChild.cloneNode(true);
    row.dataset.commentId = String(comment.id);
    row.dataset.authorId = String(comment.author.id);
    row.dataset.createdAt = comment.created_at;
    row.querySelector(".comment-author").textContent =
      comment.author.display_name || comment.author.username;
    const time = row.querySelector("time");
    time.dateTime = comment.created_at;
    time.textContent = window.LiveVideoTimes.format(comment.created_at);
    row.querySelector(".comment-text").textContent = comment.text;
    row.querySelectorAll("form[data-action]").forEach((form) => {
      const path = form.dataset.action
        .replace("{id}", String(comment.id))
        .replace("{author}", String(comment.author.id));
      form.action = baseUrl + path;
    });
    row.querySelectorAll("[data-user-tool]").forEach((form) => {
      form.hidden = comment.author.id === broadcasterId;
    });
    commentList.append(row);
    commentsEmpty.hidden = true;
  }

  function removeComment(data) {
    const row = commentList.querySelector('[data-comment-id="' + Number(data.id) + '"]');
    if (row) row.remove();
    commentsEmpty.hidden = commentList.children.length > 0;
  }

  // --- Live numbers and the chart -----------------------------------------------------------

  const stat = (name) => root.querySelector('[data-stat="' + name + '"]');
  const live = {
    viewers: Number(stat("viewers").textContent) || 0,
    reactions: Number(stat("reactions").textContent) || 0,
  };
  // Comment times (ms) of the last minute, seeded from the comments on the page.
  let commentTimes = Array.from(commentList.querySelectorAll("[data-created-at]"), (row) =>
    Date.parse(row.dataset.createdAt)
  );
  const samples = [];
  let lastSampledReactions = live.reactions;

  function renderNumbers() {
    const minuteAgo = Date.now() - 60000;
    commentTimes = commentTimes.filter((t) => t > minuteAgo);
    stat("viewers").textContent = String(live.viewers);
    stat("reactions").textContent = String(live.reactions);
    stat("cpm").textContent = String(commentTimes.length);
  }

  /** Totals only grow: lower ones were read before those shown and came late (another
   * server's or region's), so the newest stay. */
  function renderTotals(data) {
    if (data.total < live.reactions) return;
    live.reactions = data.total;
    for (const [kind, count] of Object.entries(data.totals)) {
      const cell = root.querySelector('[data-kind-count="' + kind + '"]');
      if (cell) cell.textContent = String(count);
    }
    renderNumbers();
  }

  function sample() {
    samples.push({
      viewers: live.viewers,
      reactions: Math.max(0, live.reactions - lastSampledReactions),
    });
    lastSampledReactions = live.reactions;
    if (samples.length > MAX_SAMPLES) samples.shift();
    renderNumbers();
    drawChart();
  }

  /** Viewers as a line and reactions per sample as bars, each scaled to its own maximum. */
  function drawChart() {
    const svg = root.querySelector("[data-chart]");
    const width = 600;
    const height = 140;
    const pad = 6;
    const slots = Math.max(samples.length, 24);
    const step = (width - 2 * pad) / Math.max(slots - 1, 1);
    const maxViewers = Math.max(1, ...samples.map((s) => s.viewers));
    const maxReactions = Math.max(1, ...samples.map((s) => s.reactions));
    const y = (value, max) => height - pad - (value / max) * (height - 2 * pad);
    const ns = "http://www.w3.org/2000/svg";
    const nodes = [];
    samples.forEach((s, i) => {
      if (!s.reactions) return;
      const bar = document.createElementNS(ns, "rect");
      const top = y(s.reactions, maxReactions);
      bar.setAttribute("x", String(pad + i * step - step * 0.35));
      bar.setAttribute("y", String(top));
      bar.setAttribute("width", String(Math.max(step * 0.7, 1)));
      bar.setAttribute("height", String(height - pad - top));
      bar.setAttribute("class", "chart-reactions");
      nodes.push(bar);
    });
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute(
      "points",
      samples.map((s, i) => pad + i * step + "," + y(s.viewers, maxViewers)).join(" ")
    );
    line.setAttribute("class", "chart-viewers");
    nodes.push(line);
    svg.replaceChildren(...nodes);
  }

  // --- Real-time ----------------------------------------------------------------------------

  function renderStatus(data) {
    document.querySelectorAll("[data-status-badge]").forEach((badge) => {
      badge.className = "badge badge-" + data.status;
      badge.textContent = STATUS_LABELS[data.status] || data.status;
    });
  }

  /** The stream counts this page's own connection; the broadcaster is not a viewer. */
  function setViewers(count) {
    live.viewers = Math.max(0, count - 1);
    renderNumbers();
  }

  const handlers = {
    hello: (data) => {
      renderStatus(data.broadcast);
      renderTotals(data.broadcast.reactions);
      setViewers(data.broadcast.viewers);
    },
    viewers: (data) => setViewers(data.count),
    reactions: renderTotals,
    "comment.created": (data) => {
      commentTimes.push(Date.now());
      appendComment(data);
      renderNumbers();
    },
    "comment.removed": removeComment,
    "comment.pinned": () => refreshSections(),
    "broadcast.status": renderStatus,
  };

  function applyEvents(events) {
    (Array.isArray(events) ? events : [events]).forEach((event) => {
      const handler = event && handlers[event.type];
      if (handler) handler(event.data || {});
    });
  }

  function setConnection(connectionState) {
    const element = root.querySelector("[data-connection]");
    element.dataset.state = connectionState;
    element.textContent = CONNECTION_LABELS[connectionState] || connectionState;
  }

  function start(connect) {
    if (typeof connect !== "function") return setConnection("offline");
    window.LiveVideoStudio.client = connect(Number(root.dataset.broadcastId), {
      onEvent: applyEvents,
      onState: setConnection,
    });
    return window.LiveVideoStudio.client;
  }

  // The user card (a click on a name), as on the watch page; this page is for moderators.
  const moderate = window.LiveVideoModerate.create(root, {
    broadcastId: Number(root.dataset.broadcastId),
    onToast: showToast,
    send: (message) => {
      const client = window.LiveVideoStudio.client; // false: REST instead
      return Boolean(client) && client.send(message);
    },
  });
  moderate.setRole("moderator");
  handlers["review.queue"] = () => moderate.reviewChanged();
  handlers.ack = (data) => moderate.answered("ack", data);
  handlers.error = (data) => moderate.answered("error", data);
  const watching = window.LiveVideoWatching.create(
    root.querySelector("[data-watching]"),
    Number(root.dataset.broadcastId),
    broadcasterId
  );
  handlers.presence = watching.apply;

  window.LiveVideoStudio = { start: start, applyEvents: applyEvents };
  sample();
  setInterval(sample, SAMPLE_MS);
})();
