/*
 * The watch page: reactions, comments, presence and live state for one broadcast.
 *
 * It starts from the server-rendered page and the embedded broadcast data (#broadcast-data),
 * writes through the REST API (api.js) (reactions and moderation over the stream's WebSocket when one
 * is open), and applies contract events with applyEvent(). The watch template imports
 * realtime.js as a module and hands its connect() to start():
 *
 *   window.LiveVideoWatch.start(connect);   // connect(broadcastId, {onEvent, onState})
 *
 * User text is only ever set with textContent, never as HTML.
 */
(function () {
  "use strict";

  const root = document.querySelector("[data-watch]");
  if (!root) return;

  const state = JSON.parse(document.getElementById("broadcast-data").textContent);
  const userId = root.dataset.userId ? Number(root.dataset.userId) : null;
  const commentsLimit = Number(root.dataset.commentsLimit) || 100;
  const commentMax = Number(root.dataset.commentMax) || 500;
  const apiBase = "/api/broadcasts/" + state.id + "/";

  const commentList = root.querySelector("[data-comment-list]");
  const commentsEmpty = root.querySelector("[data-comments-empty]");
  const commentTemplate = document.getElementById("comment-template");
  const newCommentsPill = root.querySelector("[data-new-comments]");
  const reactionError = root.querySelector("[data-reaction-error]");
  const floats = window.LiveVideoFloats.create(root.querySelector("[data-float-layer]"));

  // --- REST --------------------------------------------------------------------------------

  const { request: api, errorMessage, NETWORK_ERROR } = window.LiveVideoApi;

  function showError(element, message) {
    element.textContent = message || "";
    element.hidden = !message;
  }

  const chat = window.LiveVideoComposer.create(root, {
    userId: userId,
    commentMax: commentMax,
    apiBase: apiBase,
    api: api,
    errorMessage: errorMessage,
    showError: showError,
    networkError: NETWORK_ERROR,
    onPosted: (comment) => {
      appendComment(comment);
      scrollToNewest();
    },
  });
  const moderate = window.LiveVideoModerate.create(root, {
    broadcastId: state.id,
    send: (message) => Boolean(stream) && stream.send(message), // false: REST instead
  });

  // --- Status, viewers, connection ----------------------------------------------------------

  const STATUS_LABELS = { scheduled: "Upcoming", live: "Live", ended: "Ended" };
  const CONNECTION_LABELS = {
    connecting: "Connecting…",
    live: "Live updates",
    reconnecting: "Reconnecting…",
    offline: "Offline",
  };

  function renderStatus(data) {
    state.status = data.status;
    state.started_at = data.started_at;
    state.ended_at = data.ended_at;
    const live = data.status === "live";
    document.querySelectorAll("[data-status-badge]").forEach((badge) => {
      badge.className = "badge badge-" + data.status;
      badge.textContent = STATUS_LABELS[data.status] || data.status;
    });
    root.querySelectorAll("[data-reaction]").forEach((button) => {
      button.disabled = !(live && userId);
    });
    root.dataset.status = data.status; // the page hides what does not apply (viewers when not live)
    chat.setLive(live);
  }

  function renderViewers(data) {
    state.viewers = data.count;
    root.querySelector("[data-viewers]").textContent = String(data.count);
  }

  function setConnection(connectionState) {
    const element = root.querySelector("[data-connection]");
    element.dataset.state = connectionState;
    element.textContent = CONNECTION_LABELS[connectionState] || connectionState;
    // Counts and dots are as of the last update: grey them until the stream is back.
    root.classList.toggle("is-stale", connectionState !== "live");
  }

  // --- Reactions ----------------------------------------------------------------------------

  const icons = {};
  root.querySelectorAll("[data-reaction]").forEach((button) => {
    icons[button.dataset.reaction] = button.querySelector(".reaction-icon").textContent;
  });
  let serverTotals = Object.assign({}, state.reactions.totals);
  const pendingOwn = {}; // this viewer's taps not yet counted in a server total

  function renderCounts() {
    root.querySelectorAll("[data-reaction]").forEach((button) => {
      const kind = button.dataset.reaction;
      const count = (serverTotals[kind] || 0) + (pendingOwn[kind] || 0);
      button.querySelector("[data-count]").textContent = String(count);
      const label = button.querySelector(".reaction-label").textContent;
      button.setAttribute("aria-label", label + " (" + count + ")");
    });
  }

  /** Absolute totals from the server: float what changed since the last ones (minus our own
   * taps, which floated when tapped), then show the new counts. */
  function applyTotals(data) {
    const diff = {};
    for (const [kind, total] of Object.entries(data.totals)) {
      const grew = total - (serverTotals[kind] || 0);
      const own = Math.min(pendingOwn[kind] || 0, Math.max(0, grew));
      pendingOwn[kind] = (pendingOwn[kind] || 0) - own;
      diff[kind] = grew - own;
    }
    serverTotals = Object.assign({}, data.totals);
    state.reactions = data;
    renderCounts();
    floats.burst(diff, icons);
  }

  /** Totals from the server (a `reactions` event, hello, a REST read). Totals only grow, so
   * lower ones were read before those shown and came late (another server's or region's):
   * the newest stay. */
  function applyServerTotals(data) {
    if (data.total < state.reactions.total) return;
    applyTotals(data);
  }

  /** Count and float a tap at once; send it over the WebSocket when one is open (far less work
   * for the server than a REST request), else over REST. */
  async function react(kind) {
    const refused = chat.refusal() || rateLimited();
    if (refused) return showError(reactionError, refused);
    pendingOwn[kind] = (pendingOwn[kind] || 0) + 1;
    renderCounts();
    floats.burst({ [kind]: 1 }, icons);
    if (sendTap(kind)) return;
    let failure = null;
    let retryAfter = 0;
    try {
      const result = await api(apiBase + "reactions/", {
        method: "POST",
        body: JSON.stringify({ kind: kind }),
      });
      if (!result.ok) failure = errorMessage(result);
      retryAfter = result.status === 429 ? result.retryAfter : 0;
    } catch (_) {
      failure = NETWORK_ERROR;
    }
    tapDone(kind, failure, retryAfter);
  }

  let tapsBlockedUntil = 0; // after a rate-limit refusal, taps wait (and do not float)

  function rateLimited() {
    const left = Math.ceil((tapsBlockedUntil - Date.now()) / 1000);
    return left > 0 ? "Too many reactions; try again in " + left + " s." : null;
  }

  /** A tap's outcome: a refused one no longer counts, and its reason shows (or clears). */
  function tapDone(kind, failure, retryAfter) {
    if (retryAfter > 0) tapsBlockedUntil = Date.now() + retryAfter * 1000;
    if (failure && pendingOwn[kind] > 0) {
      pendingOwn[kind] -= 1;
      renderCounts();
    }
    showError(reactionError, failure);
  }

  // Taps sent over the WebSocket, by ref. The server says nothing when it takes one (the next
  // totals count it) and answers a refused one with an `error` event carrying its ref; after
  // TAP_REF_TTL with no error the tap went through, and its ref is forgotten.
  const TAP_REF_TTL = 10000; // ms
  const sentTaps = new Map(); // ref -> kind
  let lastTapRef = 0;

  /** Send a tap over the stream's WebSocket; false when none is open (SSE, reconnecting). */
  function sendTap(kind) {
    const ref = "tap-" + ++lastTapRef;
    if (!stream || !stream.send({ type: "reaction", kind: kind, ref: ref })) return false;
    sentTaps.set(ref, kind);
    setTimeout(() => sentTaps.delete(ref), TAP_REF_TTL);
    showError(reactionError, null); // as a REST tap that went through would
    return true;
  }

  /** An `error` event: a refused moderation message's goes to moderate.js; a refused tap's is
   * handled like a refused REST request; others (a malformed message, no ref) are not for the
   * viewer. */
  function streamError(data) {
    if (moderate.answered("error", data)) return;
    const kind = sentTaps.get(data.ref);
    if (kind === undefined) return;
    sentTaps.delete(data.ref);
    let failure = data.message || "Something went wrong (" + data.code + ").";
    if (data.code === "rate_limited" && data.retry_after > 0) {
      // What the REST API's 429 says, from Retry-After.
      const wait = Math.ceil(data.retry_after);
      failure += " Expected available in " + wait + (wait === 1 ? " second." : " seconds.");
    }
    tapDone(kind, failure, data.code === "rate_limited" ? data.retry_after : 0);
  }

  const presence = window.LiveVideoPresence.create(root);

  // --- Comments -----------------------------------------------------------------------------

  function decorateComment(item) {
    const time = item.querySelector("time");
    if (time && time.dateTime) time.textContent = window.LiveVideoTimes.format(time.dateTime);
    const own = userId !== null && Number(item.dataset.authorId) === userId;
    item.querySelector("[data-delete-comment]").hidden = !own;
    moderate.decorate(item);
  }

  function nearBottom() {
    return commentList.scrollHeight - commentList.scrollTop - commentList.clientHeight < 48;
  }

  function scrollToNewest() {
    commentList.scrollTop = commentList.scrollHeight;
    newCommentsPill.hidden = true;
  }

  function appendComment(comment) {
    if (commentList.querySelector('[data-comment-id="' + Number(comment.id) + '"]')) return;
    const stick = nearBottom() || comment.author.id === userId;
    const item = commentTemplate.content.firstElementChild.cloneNode(true);
    item.dataset.commentId = String(comment.id);
    item.dataset.authorId = String(comment.author.id);
    item.querySelector("[data-presence-user]").dataset.presenceUser = String(comment.author.id);
    item.querySelector(".comment-author").textContent =
      comment.author.display_name || comment.author.username;
    item.querySelector("time").dateTime = comment.created_at;
    item.querySelector(".comment-text").textContent = comment.text;
    decorateComment(item);
    commentList.append(item);
    while (commentList.children.length > commentsLimit) commentList.firstElementChild.remove();
    commentsEmpty.hidden = true;
    presence.track([comment.author.id]);
    if (stick) scrollToNewest();
    else newCommentsPill.hidden = false;
  }

  function removeComment(data) {
    const item = commentList.querySelector('[data-comment-id="' + Number(data.id) + '"]');
    if (item) item.remove();
    commentsEmpty.hidden = commentList.children.length > 0;
    if (Number(data.id) === state.pinnedId) renderPinned({ comment: null });
  }

  function renderPinned(data) {
    const box = root.querySelector("[data-pinned]");
    const comment = data.comment;
    state.pinnedId = comment ? comment.id : null;
    box.hidden = !comment;
    box.querySelector("[data-pinned-author]").textContent = comment
      ? comment.author.display_name || comment.author.username
      : "";
    box.querySelector("[data-pinned-text]").textContent = comment ? comment.text : "";
  }

  /** Refetch everything over REST (after a `reset`: history no longer covers the gap). */
  async function resync() {
    const detail = await api(apiBase);
    if (detail.ok) applySnapshot(detail.body);
    const comments = [];
    let next = apiBase + "comments/";
    while (next) {
      const page = await api(next);
      if (!page.ok) return;
      comments.push(...page.body.results);
      comments.splice(0, Math.max(0, comments.length - commentsLimit));
      next = page.body.next;
    }
    commentList.replaceChildren();
    comments.forEach(appendComment);
    commentsEmpty.hidden = comments.length > 0;
    scrollToNewest();
  }

  function applySnapshot(broadcast) {
    renderStatus(broadcast);
    applyServerTotals(broadcast.reactions);
    renderViewers({ count: broadcast.viewers });
    if ("pinned_comment" in broadcast) renderPinned({ comment: broadcast.pinned_comment });
    if (broadcast.chat_rules) chat.setRules(broadcast.chat_rules);
  }

  // --- The real-time hook -------------------------------------------------------------------

  const handlers = {
    hello: (data) => {
      chat.setYou(data.you);
      if (data.you) moderate.setRole(data.you.role);
      applySnapshot(data.broadcast);
    },
    "viewer.state": (data) => chat.viewerState(data),
    "comment.held": () => chat.held(),
    "review.queue": () => moderate.reviewChanged(),
    ack: (data) => moderate.answered("ack", data),
    "chat.rules": (data) => chat.setRules(data),
    "comment.created": appendComment,
    "comment.removed": removeComment,
    "comment.pinned": renderPinned,
    "broadcast.status": renderStatus,
    reactions: applyServerTotals,
    viewers: renderViewers,
    presence: presence.apply,
    reset: () => resync(),
    error: streamError,
  };

  /** Apply one contract event {type, id, ts, data} to the page. */
  function applyEvent(event) {
    const handler = event && handlers[event.type];
    if (handler) handler(event.data || {});
    // The video player (player.js) follows the same events.
    if (event) root.dispatchEvent(new CustomEvent("livevideo:event", { detail: event }));
  }

  function applyEvents(events) {
    // In-step mode (instep.js) may hold an event until the viewer's picture reaches it.
    const gate = window.LiveVideoInStep ? window.LiveVideoInStep.apply : applyEvent;
    (Array.isArray(events) ? events : [events]).forEach((event) => gate(event, applyEvent));
  }

  let stream = null; // realtime.js's client, once started

  /** Connect with realtime.js's connect(); without it the page just does not update live. */
  function start(connect) {
    if (typeof connect !== "function") return setConnection("offline");
    stream = connect(state.id, { onEvent: applyEvents, onState: setConnection });
    window.LiveVideoWatch.client = stream;
    return stream;
  }

  window.LiveVideoWatch = {
    broadcastId: state.id,
    applyEvent: applyEvent,
    applyEvents: applyEvents,
    showTotals: applyTotals, // the chat replay's totals of a moment, lower than the final ones
    resync: resync,
    start: start,
  };

  // --- User actions -------------------------------------------------------------------------

  root.querySelectorAll("[data-reaction]").forEach((button) => {
    button.addEventListener("click", () => react(button.dataset.reaction));
  });

  newCommentsPill.addEventListener("click", scrollToNewest);
  commentList.addEventListener("scroll", () => {
    if (nearBottom()) newCommentsPill.hidden = true;
  });

  commentList.addEventListener("click", async (clickEvent) => {
    const button = clickEvent.target.closest("[data-delete-comment]");
    if (!button || !window.confirm("Delete your comment?")) return;
    const id = button.closest("[data-comment-id]").dataset.commentId;
    try {
      const result = await api(apiBase + "comments/" + id + "/", { method: "DELETE" });
      if (result.ok || result.status === 404) removeComment({ id: id });
      else window.alert(errorMessage(result));
    } catch (_) {
      window.alert(NETWORK_ERROR);
    }
  });

  commentList.querySelectorAll("[data-comment-id]").forEach(decorateComment);
  state.pinnedId = Number(root.querySelector("[data-pinned]").dataset.pinnedId) || null;
  scrollToNewest();
  const you = JSON.parse(document.getElementById("viewer-state").textContent);
  chat.setYou(you);
  moderate.setRole(you.role);
  chat.setRules(state.chat_rules);
  chat.setLive(state.status === "live");
  presence.track(
    [state.broadcaster.id].concat(
      Array.from(commentList.querySelectorAll("[data-author-id]"), (c) => Number(c.dataset.authorId))
    )
  );
})();
