/*
 * Presence dots: a green dot next to people who are online, grey otherwise.
 *
 * LiveVideoPresence.create(root) returns {track(ids), apply(data)}. Every element in root with
 * data-presence-user="<id>" is a dot (data-presence-label="<id>" is its screen-reader text).
 * track() asks GET /api/presence/ about ids not known yet, in batches; apply() takes the
 * stream's `presence` events ({joined: [user], left: [user]}) and keeps the dots current.
 */
(function () {
  "use strict";

  const BATCH = 100;

  function create(root) {
    const online = new Map(); // user id -> online?
    let queue = new Set();
    let timer = null;

    function render(ids) {
      ids.forEach((id) => {
        const isOnline = online.get(id) === true;
        root.querySelectorAll('[data-presence-user="' + id + '"]').forEach((dot) => {
          dot.classList.toggle("is-online", isOnline);
          dot.title = isOnline ? "Online" : "Offline";
        });
        root.querySelectorAll('[data-presence-label="' + id + '"]').forEach((label) => {
          label.textContent = isOnline ? "(online)" : "(offline)";
        });
      });
    }

    async function lookUp() {
      const batch = Array.from(queue).slice(0, BATCH);
      queue = new Set(Array.from(queue).slice(BATCH));
      timer = null;
      try {
        const response = await fetch("/api/presence/?user_ids=" + batch.join(","), {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (response.ok) {
          const states = await response.json();
          for (const [id, info] of Object.entries(states)) online.set(Number(id), info.online);
          render(batch);
        }
      } catch (_) {
        // The dots stay grey; the next presence event fills them in.
      }
      if (queue.size) timer = setTimeout(lookUp, 300);
    }

    function track(ids) {
      render(ids);
      ids.forEach((id) => {
        if (!online.has(id)) queue.add(id);
      });
      if (!timer && queue.size) timer = setTimeout(lookUp, 300);
    }

    function apply(data) {
      const changed = [];
      const mark = (users, isOnline) =>
        (users || []).forEach((user) => {
          online.set(user.id, isOnline);
          changed.push(user.id);
        });
      mark(data.joined, true);
      mark(data.left, false);
      render(changed);
    }

    return { track: track, apply: apply };
  }

  window.LiveVideoPresence = { create: create };
})();
