/*
 * Chat replay on an ended broadcast's watch page: while the recording plays, the comments and
 * reactions come back at the moment of the broadcast they were made (GET .../timeline/), as
 * Twitch's chat replay does. Seeking moves the chat; removed comments are not in the timeline.
 *
 * It drives the page through watch.js's applyEvent (comment.created) and showTotals (the totals
 * at that moment: lower than the newest, which a stream's totals must not be) and owns only
 * which comments of the timeline are shown.
 */
(function () {
  "use strict";

  const dataNode = document.getElementById("broadcast-data");
  const video = document.querySelector("[data-player-video]");
  const list = document.querySelector("[data-comment-list]");
  const watch = window.LiveVideoWatch;
  if (!dataNode || !video || !list || !watch) return;
  const broadcast = JSON.parse(dataNode.textContent);

  const base = "/api/broadcasts/" + broadcast.id + "/timeline/";
  const comments = []; // [{offset_ms, comment}], in order
  const seconds = []; // [{offset_ms, counts}], in order
  let shown = 0; // comments[0..shown) are on the page
  let reactionsAt = -1; // seconds[0..reactionsAt) are in the totals shown

  async function fetchTimeline() {
    const endedAt = broadcast.ended_at ? Date.parse(broadcast.ended_at) : Date.now();
    let from = 0;
    let end = Infinity; // known from the first answer's origin
    while (from !== null && from < end) {
      const response = await fetch(base + "?from_ms=" + from, { credentials: "same-origin" });
      if (!response.ok) return;
      const page = await response.json();
      if (!page.origin) return;
      end = endedAt - Date.parse(page.origin) + 60000;
      comments.push(...page.comments);
      seconds.push(...page.reactions);
      from = page.next_from_ms !== null ? page.next_from_ms : page.to_ms;
    }
  }

  function showCommentsUntil(ms) {
    while (shown > 0 && comments[shown - 1].offset_ms > ms) {
      shown -= 1;
      const item = list.querySelector('[data-comment-id="' + Number(comments[shown].comment.id) + '"]');
      if (item) item.remove();
    }
    while (shown < comments.length && comments[shown].offset_ms <= ms) {
      watch.applyEvent({ type: "comment.created", data: comments[shown].comment });
      shown += 1;
    }
  }

  function showReactionsUntil(ms) {
    let count = 0;
    while (count < seconds.length && seconds[count].offset_ms <= ms) count += 1;
    if (count === reactionsAt) return;
    reactionsAt = count;
    const totals = {};
    document.querySelectorAll("[data-reaction]").forEach((b) => (totals[b.dataset.reaction] = 0));
    let total = 0;
    for (const second of seconds.slice(0, count)) {
      for (const [kind, n] of Object.entries(second.counts)) {
        totals[kind] = (totals[kind] || 0) + n;
        total += n;
      }
    }
    watch.showTotals({ totals: totals, total: total });
  }

  function sync() {
    const ms = video.currentTime * 1000;
    showCommentsUntil(ms);
    showReactionsUntil(ms);
  }

  // The stream's hello shows the final totals: put the replay's back.
  document.querySelector("[data-watch]").addEventListener("livevideo:event", (event) => {
    if (event.detail.type !== "hello" || reactionsAt < 0) return;
    reactionsAt = -1;
    sync();
  });

  let started = false;

  function start() {
    if (started) return;
    started = true;
    fetchTimeline().then(() => {
      // The replay starts with an empty room: what was said comes back as the video plays.
      list.querySelectorAll("[data-comment-id]").forEach((item) => item.remove());
      document.documentElement.dataset.chatReplay = "on";
      sync();
      video.addEventListener("timeupdate", sync);
      video.addEventListener("seeked", sync);
    });
  }

  // An ended broadcast's page, or a page that watched it live until the replay took over.
  if (broadcast.status === "ended" && broadcast.playback_url) start();
  document.addEventListener("livevideo:replay", start);
})();
