/*
 * The watch page: reactions, comments and live state for one broadcast.
 *
 * It starts from the server-rendered page and the embedded broadcast data (#broadcast-data),
 * writes through the REST API, and applies contract events with applyEvent(). The real-time
 * client (realtime.js) plugs in through window.LiveVideoWatch:
 *
 *   // realtime: for each received event
 *   window.LiveVideoWatch.applyEvent(event);
 *
 * If realtime.js loads first it can wait for the "livevideo:watch-ready" event on document.
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
  const composer = root.querySelector("[data-composer]");
  const reactionError = root.querySelector("[data-reaction-error]");
  const presence = new Map();

  // --- REST --------------------------------------------------------------------------------

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  /** Fetch JSON; resolves to {ok, status, body}, and rejects only when the network fails. */
  async function api(path, options) {
    const init = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    init.headers = Object.assign(
      { Accept: "application/json", "X-CSRFToken": csrfToken() },
      init.body ? { "Content-Type": "application/json" } : {},
      init.headers
    );
    const response = await fetch(path, init);
    let body = null;
    if (response.status !== 204) {
      try {
        body = await response.json();
      } catch (_) {
        body = null;
      }
    }
    return { ok: response.ok, status: response.status, body: body };
  }

  const FALLBACK_ERRORS = {
    401: "Please sign in again.",
    403: "You are not allowed to do that.",
    404: "This broadcast no longer exists.",
    409: "The broadcast is not live.",
    429: "You are going a bit fast: wait a moment and try again.",
  };

  /** The API's reason: {"detail": ...} or field errors {"field": ["..."]}. */
  function errorMessage(result) {
    const body = result.body;
    if (body && typeof body.detail === "string") return body.detail;
    if (body && typeof body === "object") {
      const reasons = Object.values(body).flat().filter((r) => typeof r === "string");
      if (reasons.length) return reasons.join(" ");
    }
    return FALLBACK_ERRORS[result.status] || "Something went wrong (" + result.status + ").";
  }

  function showError(element, message) {
    element.textContent = message || "";
    element.hidden = !message;
  }

  const NETWORK_ERROR = "Could not reach the server. Check your connection and try again.";

  // --- Rendering state ----------------------------------------------------------------------

  const STATUS_LABELS = { scheduled: "Upcoming", live: "Live", ended: "Ended" };
  const PLAYER_MESSAGES = {
    scheduled: "This broadcast has not started yet.",
    live: "The broadcaster is live: follow the chat and reactions.",
    ended: "This broadcast has ended.",
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
    const playerMessage = root.querySelector("[data-player-message]");
    if (playerMessage) playerMessage.textContent = PLAYER_MESSAGES[data.status] || "";
    root.querySelectorAll("[data-reaction]").forEach((button) => {
      button.disabled = !(live && userId);
    });
    if (composer) {
      composer.querySelector("textarea").disabled = !live;
      composer.querySelector("[data-composer-note]").hidden = live;
      updateComposer();
    }
  }

  function renderReactions(data) {
    state.reactions = data;
    root.querySelectorAll("[data-reaction]").forEach((button) => {
      const count = data.totals[button.dataset.reaction] || 0;
      button.querySelector("[data-count]").textContent = String(count);
      const label = button.querySelector(".reaction-label").textContent;
      button.setAttribute("aria-label", label + " (" + count + ")");
    });
  }

  function renderViewers(data) {
    state.viewers = data.count;
    root.querySelector("[data-viewers]").textContent = String(data.count);
  }

  function renderPresence(data) {
    (data.joined || []).forEach((user) => presence.set(user.id, user));
    (data.left || []).forEach((user) => presence.delete(user.id));
    const list = root.querySelector("[data-presence-list]");
    list.replaceChildren(
      ...Array.from(presence.values()).map((user) => {
        const item = document.createElement("li");
        item.className = "chip";
        item.textContent = user.display_name || user.username;
        return item;
      })
    );
    root.querySelector("[data-presence]").hidden = presence.size === 0;
  }

  // --- Comments -----------------------------------------------------------------------------

  function formatTime(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function decorateComment(item) {
    const time = item.querySelector("time");
    if (time && time.dateTime) time.textContent = formatTime(time.dateTime);
    const own = userId !== null && Number(item.dataset.authorId) === userId;
    item.querySelector("[data-delete-comment]").hidden = !own;
  }

  function nearBottom() {
    return commentList.scrollHeight - commentList.scrollTop - commentList.clientHeight < 48;
  }

  function appendComment(comment) {
    if (commentList.querySelector('[data-comment-id="' + Number(comment.id) + '"]')) return;
    const stick = nearBottom();
    const item = commentTemplate.content.firstElementChild.cloneNode(true);
    item.dataset.commentId = String(comment.id);
    item.dataset.authorId = String(comment.author.id);
    item.querySelector(".comment-author").textContent =
      comment.author.display_name || comment.author.username;
    item.querySelector("time").dateTime = comment.created_at;
    item.querySelector(".comment-text").textContent = comment.text;
    decorateComment(item);
    commentList.append(item);
    while (commentList.children.length > commentsLimit) commentList.firstElementChild.remove();
    commentsEmpty.hidden = true;
    if (stick) commentList.scrollTop = commentList.scrollHeight;
  }

  function removeComment(data) {
    const item = commentList.querySelector('[data-comment-id="' + Number(data.id) + '"]');
    if (item) item.remove();
    commentsEmpty.hidden = commentList.children.length > 0;
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
  }

  function applySnapshot(broadcast) {
    renderStatus(broadcast);
    renderReactions(broadcast.reactions);
    renderViewers({ count: broadcast.viewers });
  }

  // --- The real-time hook -------------------------------------------------------------------

  const handlers = {
    hello: (data) => applySnapshot(data.broadcast),
    "comment.created": appendComment,
    "comment.removed": removeComment,
    "broadcast.status": renderStatus,
    reactions: renderReactions,
    viewers: renderViewers,
    presence: renderPresence,
    reset: () => resync(),
  };

  /** realtime: apply one contract event {type, id, ts, data} to the page. */
  function applyEvent(event) {
    const handler = event && handlers[event.type];
    if (handler) handler(event.data || {});
  }

  window.LiveVideoWatch = {
    broadcastId: state.id,
    applyEvent: applyEvent,
    applyEvents: (events) => events.forEach(applyEvent),
    resync: resync,
  };
  document.dispatchEvent(new CustomEvent("livevideo:watch-ready", { detail: window.LiveVideoWatch }));

  // --- User actions -------------------------------------------------------------------------

  root.querySelectorAll("[data-reaction]").forEach((button) => {
    button.addEventListener("click", async () => {
      const kind = button.dataset.reaction;
      try {
        const result = await api(apiBase + "reactions/", {
          method: "POST",
          body: JSON.stringify({ kind: kind }),
        });
        if (!result.ok) return showError(reactionError, errorMessage(result));
        showError(reactionError, "");
        // Counted at once for feedback; the next absolute `reactions` event corrects it.
        const totals = Object.assign({}, state.reactions.totals);
        totals[kind] = (totals[kind] || 0) + 1;
        renderReactions({ totals: totals, total: state.reactions.total + 1 });
      } catch (_) {
        showError(reactionError, NETWORK_ERROR);
      }
    });
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

  function updateComposer() {
    if (!composer) return;
    const textarea = composer.querySelector("textarea");
    const length = textarea.value.length;
    const counter = composer.querySelector("[data-counter]");
    counter.textContent = length + " / " + commentMax;
    counter.classList.toggle("counter-warn", length > commentMax * 0.9);
    composer.querySelector("[type=submit]").disabled =
      textarea.disabled || !textarea.value.trim() || length > commentMax;
  }

  if (composer) {
    const textarea = composer.querySelector("textarea");
    const errorBox = composer.querySelector("[data-composer-error]");
    textarea.addEventListener("input", updateComposer);
    textarea.addEventListener("keydown", (keyEvent) => {
      // Enter sends, Shift+Enter makes a new line, as in most chats.
      if (keyEvent.key === "Enter" && !keyEvent.shiftKey && !keyEvent.isComposing) {
        keyEvent.preventDefault();
        composer.requestSubmit();
      }
    });
    composer.addEventListener("submit", async (submitEvent) => {
      submitEvent.preventDefault();
      const text = textarea.value.trim();
      if (!text) return showError(errorBox, "Write something first.");
      const submit = composer.querySelector("[type=submit]");
      submit.disabled = true;
      try {
        const result = await api(apiBase + "comments/", {
          method: "POST",
          body: JSON.stringify({ text: text }),
        });
        if (!result.ok) {
          showError(errorBox, errorMessage(result));
        } else {
          showError(errorBox, "");
          textarea.value = "";
          commentList.scrollTop = commentList.scrollHeight;
          appendComment(result.body);
        }
      } catch (_) {
        showError(errorBox, NETWORK_ERROR);
      } finally {
        updateComposer();
      }
    });
  }

  commentList.querySelectorAll("[data-comment-id]").forEach(decorateComment);
  commentList.scrollTop = commentList.scrollHeight;
  updateComposer();
})();
