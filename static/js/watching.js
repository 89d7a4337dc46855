/*
 * The studio's "Who's watching": the signed-in viewers present now, searchable. Loaded from
 * GET /api/broadcasts/<id>/watching/, then kept current from the stream's `presence` events.
 * A name opens the user card (moderate.js), as in the comments.
 *
 *   const list = LiveVideoWatching.create(section, broadcastId, broadcasterId);
 *   list.apply(presenceEventData);
 */
(function () {
  "use strict";

  function create(section, broadcastId, broadcasterId) {
    if (!section) return { apply() {} };
    const list = section.querySelector("[data-watching-list]");
    const search = section.querySelector("[data-watching-search]");
    const empty = section.querySelector("[data-watching-empty]");
    const people = new Map(); // id -> user
    const add = (user) => {
      if (user.id !== broadcasterId) people.set(user.id, user); // the broadcaster is no viewer
    };

    function render() {
      const needle = search.value.trim().toLowerCase();
      const shown = Array.from(people.values())
        .filter(
          (u) =>
            !needle ||
            u.username.toLowerCase().includes(needle) ||
            (u.display_name || "").toLowerCase().includes(needle)
        )
        .sort((a, b) => (a.display_name || a.username).localeCompare(b.display_name || b.username));
      list.replaceChildren(
        ...shown.map((user) => {
          const li = document.createElement("li");
          li.dataset.authorId = String(user.id);
          const name = document.createElement("span");
          name.className = "comment-author is-clickable";
          name.setAttribute("role", "button");
          name.tabIndex = 0;
          name.textContent = user.display_name || user.username;
          const handle = document.createElement("span");
          handle.className = "muted";
          handle.textContent = " @" + user.username;
          li.append(name, handle);
          return li;
        })
      );
      empty.hidden = shown.length > 0;
    }

    async function load() {
      try {
        const response = await fetch("/api/broadcasts/" + broadcastId + "/watching/", {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (!response.ok) return;
        (await response.json()).users.forEach(add);
        render();
      } catch (_) {
        // The list fills in from presence events.
      }
    }

    search.addEventListener("input", render);
    load();
    return {
      apply(data) {
        (data.joined || []).forEach(add);
        (data.left || []).forEach((user) => people.delete(user.id));
        render();
      },
    };
  }

  window.LiveVideoWatching = { create: create };
})();
