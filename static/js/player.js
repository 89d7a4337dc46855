/*
 * The watch page's video player: live HLS with hls.js (static/vendor/hls, its licence beside
 * it), native HLS where the browser has it (Safari), and the replay after the end.
 *
 * It starts from the embedded broadcast data (#broadcast-data: status, ingest_state,
 * playback_url, thumbnail_url) and follows the stream's events, which watch.js re-dispatches
 * on the page as "livevideo:event" (hello, broadcast.status, broadcast.video).
 *
 * Its state is on the player as data-player-state, for people (the overlay's text) and tests:
 * waiting, loading, live, buffering, reconnecting, ended, replay, failed.
 * window.LiveVideoPlayer exposes it for other scripts (and tests).
 */
(function () {
  "use strict";

  const box = document.querySelector("[data-player]");
  const dataNode = document.getElementById("broadcast-data");
  if (!box || !dataNode) return;

  const video = box.querySelector("[data-player-video]");
  const overlay = box.querySelector("[data-player-overlay]");
  const text = box.querySelector("[data-player-text]");
  const liveButton = box.querySelector("[data-player-live]");
  const watch = document.querySelector("[data-watch]");

  const initial = JSON.parse(dataNode.textContent);
  const broadcast = {
    status: initial.status,
    ingest: initial.ingest_state,
    // An external stream_url (set in the studio) plays when there is no ingest of ours.
    url: initial.playback_url || initial.stream_url || null,
  };

  const MESSAGES = {
    scheduled: "This broadcast has not started yet.",
    waiting: "Waiting for the broadcaster's video…",
    loading: "Loading the video…",
    buffering: "Buffering…",
    reconnecting: "The broadcaster is reconnecting…",
    ended: "This broadcast has ended.",
    failed: "The video could not be played.",
  };
  const RETRY_MS = 2000; // a live playlist appears a second or two after the encoder connects
  const BEHIND_SECONDS = 6; // further than this behind the live edge shows "Back to live"

  let hls = null;
  let currentFrag = null; // the fragment on screen (hls.js)
  let loadedUrl = null;
  let retryTimer = null;
  let state = null;

  function setState(name, message) {
    state = name;
    box.dataset.playerState = name;
    const quiet = name === "live" || name === "replay";
    overlay.hidden = quiet;
    text.textContent = quiet ? "" : message || MESSAGES[name] || "";
    if (name !== "live") liveButton.hidden = true;
  }

  function isLive() {
    return broadcast.status === "live";
  }

  function unload() {
    clearTimeout(retryTimer);
    if (hls) hls.destroy();
    hls = null;
    currentFrag = null;
    loadedUrl = null;
    video.removeAttribute("src");
    video.load();
  }

  function retryLater() {
    clearTimeout(retryTimer);
    const url = loadedUrl;
    retryTimer = setTimeout(() => {
      if (url && url === broadcast.url) {
        loadedUrl = null;
        load(url);
      }
    }, RETRY_MS);
  }

  function onHlsError(_event, data) {
    if (!data.fatal) return;
    if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
      hls.recoverMediaError();
      return;
    }
    if (isLive() && data.type === window.Hls.ErrorTypes.NETWORK_ERROR) {
      // Not there yet, or the encoder is between two publishes: try again.
      setState(broadcast.ingest === "reconnecting" ? "reconnecting" : "loading");
      retryLater();
      return;
    }
    setState("failed", MESSAGES.failed + " (" + (data.details || data.type) + ")");
  }

  function load(url) {
    if (url === loadedUrl) return;
    unload();
    if (!url) return;
    loadedUrl = url;
    setState("loading");
    const isHls = /\.m3u8(?:[?#]|$)/.test(url);
    if (isHls && window.Hls && window.Hls.isSupported()) {
      hls = new window.Hls({ liveSyncDurationCount: 2 });
      hls.on(window.Hls.Events.ERROR, onHlsError);
      hls.on(window.Hls.Events.FRAG_CHANGED, (_event, data) => (currentFrag = data.frag));
      hls.loadSource(url);
      hls.attachMedia(video);
    } else {
      video.src = url; // native HLS (Safari), or a file the browser plays itself (MP4, WebM)
    }
    const playing = video.play();
    if (playing) playing.catch(() => {}); // autoplay refused: the controls start it
    // replay.js brings the chat back at its moments.
    if (broadcast.status === "ended") document.dispatchEvent(new CustomEvent("livevideo:replay"));
  }

  function render() {
    if (broadcast.status === "scheduled") {
      unload();
      return setState("scheduled");
    }
    if (broadcast.status === "ended" && !broadcast.url) {
      unload();
      return setState("ended");
    }
    if (!broadcast.url) {
      unload();
      return setState("waiting");
    }
    if (isLive() && broadcast.ingest === "reconnecting") {
      setState("reconnecting");
      return; // keep the player: the same playlist carries on when the encoder is back
    }
    load(broadcast.url);
  }

  function applyVideo(data) {
    if ("ingest_state" in data) broadcast.ingest = data.ingest_state;
    if ("playback_url" in data) broadcast.url = data.playback_url || initial.stream_url || null;
    if (data.thumbnail_url) video.poster = data.thumbnail_url;
    const wasReconnecting = state === "reconnecting";
    render();
    if (wasReconnecting && broadcast.ingest === "publishing") {
      loadedUrl = null; // the encoder is back: a fresh start at the live edge
      load(broadcast.url);
    }
  }

  async function fetchReplay() {
    try {
      const response = await fetch("/api/broadcasts/" + initial.id + "/", {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.ok) applyVideo(await response.json());
    } catch (error) {
      // offline: a later broadcast.video event (or a reload) brings the replay
    }
  }

  function applyStatus(data) {
    const ending = data.status === "ended" && broadcast.status !== "ended";
    broadcast.status = data.status;
    if (data.status === "ended" && broadcast.url && broadcast.url.includes("/hls/")) {
      broadcast.url = null; // the live playlist is over; the replay may be ready already
    }
    render();
    if (ending) fetchReplay();
  }

  const handlers = {
    hello: (data) => {
      applyStatus(data.broadcast);
      applyVideo(data.broadcast);
    },
    "broadcast.status": applyStatus,
    "broadcast.video": applyVideo,
  };

  if (watch) {
    watch.addEventListener("livevideo:event", (event) => {
      const handler = handlers[event.detail.type];
      if (handler) handler(event.detail.data || {});
    });
  }

  // --- what the <video> element says ------------------------------------------------------

  function liveEdge() {
    if (hls && hls.liveSyncPosition) return hls.liveSyncPosition;
    const ranges = video.seekable;
    return ranges.length ? ranges.end(ranges.length - 1) : null;
  }

  video.addEventListener("playing", () => setState(isLive() ? "live" : "replay"));
  video.addEventListener("waiting", () => {
    if (state === "live" || state === "replay") setState("buffering");
  });
  video.addEventListener("error", () => {
    if (hls || !video.error) return; // hls.js reports its own errors
    if (isLive()) return retryLater();
    setState("failed", MESSAGES.failed + " (" + (video.error.message || video.error.code) + ")");
  });
  video.addEventListener("timeupdate", () => {
    const edge = isLive() && state === "live" ? liveEdge() : null;
    liveButton.hidden = !(edge && edge - video.currentTime > BEHIND_SECONDS);
  });
  liveButton.addEventListener("click", () => {
    const edge = liveEdge();
    if (edge) video.currentTime = edge;
    const playing = video.play();
    if (playing) playing.catch(() => {});
  });

  /**
   * The wall-clock time (ms since the epoch, the server's clock) of the picture on screen, or
   * null when unknown. From EXT-X-PROGRAM-DATE-TIME when the playlist has it (ffmpeg's HLS
   * muxer), else from the fragment's name: the media server names each fragment by its own
   * clock when the fragment began (nginx-rtmp's hls_fragment_naming system).
   */
  function pictureTime() {
    if (!hls || state !== "live") return null;
    if (hls.playingDate) return hls.playingDate.getTime();
    const name = currentFrag && /(\d{13})\.ts(?:\?|$)/.exec(currentFrag.url || "");
    if (!name) return null;
    return Number(name[1]) + (video.currentTime - currentFrag.start) * 1000;
  }

  window.LiveVideoPlayer = {
    video: video,
    state: () => state,
    hls: () => hls,
    pictureTime: pictureTime,
  };

  render();
})();
