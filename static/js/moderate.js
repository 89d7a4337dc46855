/*
 * Moderation where the chat is, for the broadcaster, moderators and staff: Pin and Remove on
 * each comment, Unpin on the pinned one, a user card when a name is clicked (their latest comments here, time out,
 * ban, lift) and the review queue (held and reported comments: approve or remove). Signed-in
 * viewers get Report on others' comments. The watch page and the studio both use it. Each
 * action goes over the stream's WebSocket while one is open (docs/protocol.md, "What the client
 * sends") and through the REST API otherwise: the same services and rules either way; what
 * viewers then see arrives over the stream.
 *
 *   const mod = LiveVideoModerate.create(root, {broadcastId, onToast(message, isError), send});
 *   // without onToast, messages show in root's [data-mod-toast]; send(message) is the stream
 *   // client's (false when no WebSocket is open); without it every action goes over REST
 *   mod.setRole(role);    // "moderator" | "broadcaster" | "staff" turn it on; others off
 *   mod.decorate(item);   // a comment element [data-comment-id][data-author-id]
 *   mod.reviewChanged();  // the stream's `review.queue` event: refetch the queue
 *   mod.answered(type, data); // the stream's `ack` and `error` events: true if it was ours
 *
 * User text is only ever set with textContent.
 */
(function () {
  "use strict";

  const MODERATORS = ["moderator", "broadcaster", "staff"];
  const ANSWER_WAIT = 10000; // ms for the `ack` or `error` of a message sent over the WebSocket
  const { request, errorMessage: reason, NETWORK_ERROR } = window.LiveVideoApi;

  function call(method, url, body) {
    return request(url, { method: method, body: body ? JSON.stringify(body) : undefined });
  }

  function button(label, name, extra) {
    const element = document.createElement("button");
    element.type = "button";
    element.className = "link-button " + (extra || "");
    element.textContent = label;
    element.dataset.mod = name;
    return element;
  }

  /** Show a message in ``element`` for a few seconds. */
  function pageToast(element) {
    let timer = null;
    return (message, isError) => {
      if (!element) return;
      element.textContent = message;
      element.classList.toggle("toast-error", Boolean(isError));
      element.hidden = false;
      clearTimeout(timer);
      timer = setTimeout(() => (element.hidden = true), 6000);
    };
  }

  function create(root, options) {
    const api = "/api/broadcasts/" + options.broadcastId + "/";
    const toast = options.onToast || pageToast(root.querySelector("[data-mod-toast]"));
    let enabled = false;
    let role = "anonymous";
    const userId = Number(root.dataset.userId) || null;
    const review = root.querySelector("[data-review]");
    let card = null; // the <dialog>, made on first use

    const waiting = new Map(); // ref -> resolve, for messages sent over the WebSocket
    let lastRef = 0;

    /** Send ``message`` over the stream's WebSocket and wait for its answer; null when no
     * WebSocket is open (then the caller uses REST). */
    function overSocket(message) {
      const ref = "mod-" + ++lastRef;
      if (!message || !options.send || !options.send(Object.assign({ ref: ref }, message))) {
        return null;
      }
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(ref);
          resolve({ ok: false, reason: NETWORK_ERROR });
        }, ANSWER_WAIT);
        waiting.set(ref, (answer) => {
          clearTimeout(timer);
          resolve(answer);
        });
      });
    }

    /** Carry out one action: over the WebSocket (``message``) when it is open, else
     * ``method path body`` over REST; toast ``done`` or the reason it was refused. */
    async function act(message, method, path, body, done) {
      let answer = overSocket(message);
      try {
        if (answer) answer = await answer;
        else {
          const result = await call(method, api + path, body);
          answer = { ok: result.ok, reason: result.ok ? "" : reason(result) };
        }
      } catch (_) {
        answer = { ok: false, reason: NETWORK_ERROR };
      }
      toast(answer.ok ? done : answer.reason, !answer.ok);
      return answer.ok;
    }

    /** The stream's `ack` or `error` event: resolve the action that sent its ref. */
    function answered(type, data) {
      const resolve = data && waiting.get(data.ref);
      if (!resolve) return false;
      waiting.delete(data.ref);
      const failure = data.message || "Something went wrong (" + data.code + ").";
      resolve(type === "ack" ? { ok: true } : { ok: false, reason: failure });
      return true;
    }

    function decorate(item) {
      const head = item.querySelector(".comment-head");
      const author = item.querySelector(".comment-author");
      if (!head || !author || item.querySelector("[data-watch-mod-tools]")) return;
      author.classList.toggle("is-clickable", enabled);
      if (enabled) {
        author.setAttribute("role", "button");
        author.tabIndex = 0;
        author.title = "Open the user card";
      }
      if (item.closest("[data-studio]")) return; // the studio has its own row tools
      const own = userId !== null && Number(item.dataset.authorId) === userId;
      const tools = document.createElement("span");
      tools.className = "watch-mod-tools";
      tools.dataset.watchModTools = "";
      if (enabled) tools.append(button("Pin", "pin"), button("Remove", "remove", "link-danger"));
      else if (role === "viewer" && !own) tools.append(button("Report", "report"));
      if (tools.children.length) head.append(tools);
    }

    function decorateAll() {
      root.querySelectorAll("[data-comment-id]").forEach(decorate);
    }

    // --- The user card --------------------------------------------------------------------

    function makeCard() {
      const dialog = document.createElement("dialog");
      dialog.className = "user-card";
      dialog.setAttribute("aria-labelledby", "user-card-name");
      dialog.innerHTML =
        '<form method="dialog" class="user-card-close"><button class="link-button" aria-label="Close">✕</button></form>' +
        '<h2 id="user-card-name" data-card-name></h2>' +
        '<p class="muted" data-card-state></p>' +
        '<div class="user-card-actions" data-card-actions></div>' +
        "<h3>Recent comments here</h3>" +
        '<ol class="plain-list user-card-comments" data-card-comments></ol>';
      document.body.append(dialog);
      return dialog;
    }

    function stateText(data) {
      const barred = data.barred;
      if (!barred) return data.role === "viewer" ? "Viewer" : data.role;
      if (barred.until === null) return "Banned from this broadcast";
      return "Timed out until " + window.LiveVideoTimes.format(barred.until);
    }

    async function openCard(userId) {
      card = card || makeCard();
      const result = await call("GET", api + "users/" + userId + "/");
      if (!result.ok) return toast(reason(result), true);
      const data = result.body;
      const name = data.user.display_name || data.user.username;
      card.dataset.userId = String(userId);
      card.dataset.userName = name;
      card.querySelector("[data-card-name]").textContent = name + " (@" + data.user.username + ")";
      card.querySelector("[data-card-state]").textContent = stateText(data);
      const actions = card.querySelector("[data-card-actions]");
      actions.replaceChildren();
      if (data.role === "viewer") {
        actions.append(
          button("Time out 1 min", "timeout-60"),
          button("Time out 10 min", "timeout-600"),
          button("Ban", "ban", "link-danger"),
          button("Ban & remove comments", "ban-remove", "link-danger")
        );
        if (data.barred) actions.append(button("Lift", "lift"));
      }
      const list = card.querySelector("[data-card-comments]");
      list.replaceChildren(
        ...data.comments.map((comment) => {
          const li = document.createElement("li");
          li.textContent = window.LiveVideoTimes.format(comment.created_at) + " · " + comment.text;
          if (comment.removed) li.classList.add("is-removed");
          return li;
        })
      );
      if (!data.comments.length) list.append(Object.assign(document.createElement("li"), {
        textContent: "No comments here yet.",
        className: "muted",
      }));
      if (!card.open) card.showModal();
    }

    async function cardAction(name) {
      const userId = Number(card.dataset.userId);
      const who = card.dataset.userName;
      let ok = false;
      if (name.startsWith("timeout-")) {
        const seconds = Number(name.slice(8));
        const body = { user_id: userId, seconds: seconds };
        ok = await act(Object.assign({ type: "user.timeout" }, body), "POST", "bans/", body,
          who + " is timed out for " + seconds / 60 + " min.");
      } else if (name === "ban" || name === "ban-remove") {
        if (!window.confirm("Ban " + who + " from this broadcast?")) return;
        const body = { user_id: userId, remove_comments: name === "ban-remove" };
        ok = await act(Object.assign({ type: "user.ban" }, body), "POST", "bans/", body,
          who + " is banned from this broadcast.");
      } else if (name === "lift") {
        ok = await act({ type: "user.unban", user_id: userId }, "DELETE", "bans/" + userId + "/",
          null, who + " may take part again.");
      }
      if (ok) openCard(userId); // show the new state
    }

    async function commentAction(name, item) {
      const id = Number(item.dataset.commentId);
      const remove = [{ type: "comment.remove", id: id }, "DELETE", "comments/" + id + "/", null];
      if (name === "report") {
        // Reports are a viewer's, not a moderator's live tool: REST only.
        if (window.confirm("Report this comment to the moderators?")) {
          await act(null, "POST", "comments/" + id + "/report/", null,
            "Thanks: the moderators will look at it.");
        }
      } else if (name === "approve") {
        const approve = { type: "comment.approve", id: id };
        if (await act(approve, "POST", "review/" + id + "/approve/", null, "Comment approved.")) {
          loadReview();
        }
      } else if (name === "remove-held") {
        if (await act(...remove, "Comment removed.")) loadReview();
      } else if (name === "pin") {
        await act({ type: "comment.pin", id: id }, "PUT", "pinned/", { comment_id: id },
          "Comment pinned.");
      } else if (name === "remove" && window.confirm("Remove this comment for everyone?")) {
        if (await act(...remove, "Comment removed.")) item.remove();
      }
    }

    // --- The review queue ------------------------------------------------------------------

    async function loadReview() {
      if (!review || !enabled) return;
      const result = await call("GET", api + "review/").catch(() => null);
      if (!result || !result.ok) return;
      const list = review.querySelector("[data-review-list]");
      list.replaceChildren(
        ...result.body.map((entry) => {
          const li = document.createElement("li");
          li.className = "review-item";
          li.dataset.commentId = String(entry.comment.id);
          li.dataset.authorId = String(entry.comment.author.id);
          const why = entry.held ? "held" : "reported by " + entry.reports;
          const text = document.createElement("p");
          text.textContent =
            (entry.comment.author.display_name || entry.comment.author.username) +
            ": " + entry.comment.text + " (" + why + ")";
          const tools = document.createElement("span");
          tools.className = "watch-mod-tools";
          tools.append(button("Approve", "approve"), button("Remove", "remove-held", "link-danger"));
          li.append(text, tools);
          return li;
        })
      );
      review.querySelector("[data-review-count]").textContent = String(result.body.length);
      review.hidden = false;
    }

    document.addEventListener("click", (event) => {
      const tool = event.target.closest("[data-mod]");
      if (tool && tool.dataset.mod === "report" && root.contains(tool)) {
        return commentAction("report", tool.closest("[data-comment-id]"));
      }
      if (!enabled) return;
      if (tool && card && card.contains(tool)) return cardAction(tool.dataset.mod);
      if (tool && tool.dataset.mod === "unpin" && root.contains(tool)) {
        return act({ type: "comment.unpin" }, "DELETE", "pinned/", null, "Comment unpinned.");
      }
      if (tool && root.contains(tool)) {
        return commentAction(tool.dataset.mod, tool.closest("[data-comment-id]"));
      }
      const author = event.target.closest(".comment-author");
      const item = author && author.closest("[data-author-id]");
      if (item && root.contains(item) && item.dataset.authorId) {
        openCard(Number(item.dataset.authorId));
      }
    });

    document.addEventListener("keydown", (event) => {
      const author = enabled && event.key === "Enter" && event.target.closest(".comment-author");
      if (author && root.contains(author)) author.click();
    });

    return {
      decorate: decorate,
      reviewChanged: loadReview,
      answered: answered,
      setRole(next) {
        if (next === role) return;
        role = next;
        enabled = MODERATORS.includes(role);
        root.classList.toggle("is-moderating", enabled);
        root.querySelectorAll("[data-watch-mod-tools]").forEach((t) => t.remove());
        decorateAll();
        if (review) review.hidden = !enabled;
        loadReview();
      },
    };
  }

  window.LiveVideoModerate = { create: create };
})();
