/*
 * realtime.js: the client of a broadcast's real-time stream (an ES module, no build step).
 * The wire protocol is in docs/protocol.md.
 *
 *   import { connect } from "/static/js/realtime.js";
 *
 *   const stream = connect(broadcastId, {
 *     onEvent(event) {},         // every event {type, id, ts, data}, in order, each id once
 *     onState(state, detail) {}, // "connecting" | "live" | "reconnecting" | "offline"
 *     lastEventId: null,         // resume after this id (say, kept across a page reload)
 *     transport: "auto",         // "auto": WebSocket, falling back to SSE; or "websocket", "sse"
 *     baseUrl: "",               // another origin, e.g. "https://live.example.com"
 *     idleTimeout: 45000,        // ms without a frame before a WebSocket counts as dead
 *     connectTimeout: 10000,     // ms for an attempt to reach "hello" before it is given up
 *   });
 *   stream.send({ type: "reaction", kind: "like" }); // WebSocket only; false when not sent
 *   stream.send({ type: "comment", text: "Hello" });
 *   stream.state; stream.transport; stream.lastEventId;
 *   stream.close();                                   // for good
 *
 * What onEvent gets:
 * - "hello" first on every (re)connection, with the broadcast as the REST API shows it: apply
 *   it as the current state.
 * - "reset" when the server no longer has everything missed since lastEventId: refetch what
 *   you show (comments) over REST.
 * - then live events. Events with an id are never repeated and never skipped (the client
 *   resumes from the last id it saw). Keep-alives are not passed on.
 *
 * States: "connecting" (first attempt), "live" (hello received), "reconnecting" (lost; trying
 * again after an exponential backoff with jitter), "offline" (the browser is offline, the
 * broadcast does not exist (detail.reason "not_found"), or close() was called).
 */

const CLOSE_NOT_FOUND = 4404;
const CLOSE_FORBIDDEN = 4403;
const CLOSE_SLOW_CONSUMER = 4008;
const BACKOFF_MIN = 500; // ms
const BACKOFF_MAX = 30000;
const WS_FAILURES_BEFORE_SSE = 2; // WebSocket attempts that never opened, then SSE

export function connect(broadcastId, options = {}) {
  const onEvent = options.onEvent || (() => {});
  const onState = options.onState || (() => {});
  const idleTimeout = options.idleTimeout || 45000;
  // A connection can hang without ever opening or failing (a network that drops packets, a
  // proxy that never answers, a policy that blocks it without a close event): give it up.
  const connectTimeout = options.connectTimeout || 10000;
  const base = new URL(options.baseUrl || window.location.origin);
  let transport =
    options.transport === "sse" || !("WebSocket" in window) ? "sse" : "websocket";
  const mayFallBack = options.transport !== "websocket" && "EventSource" in window;
  const fellBack = () => transport === "sse" && options.transport !== "sse" && "WebSocket" in window;

  let lastEventId = options.lastEventId ?? null;
  let state = null;
  let socket = null; // the WebSocket or EventSource of the current attempt
  let attempt = 0; // failed attempts since the last hello
  let wsFailures = 0; // WebSocket attempts in a row that never opened
  let retryTimer = null;
  let idleTimer = null;
  let attemptTimer = null;
  let closed = false;

  function setState(next, detail = {}) {
    if (state === next) return;
    state = next;
    onState(next, detail);
  }

  function url(path, scheme) {
    const target = new URL(path, base);
    if (scheme) target.protocol = base.protocol === "https:" ? scheme + "s:" : scheme + ":";
    if (lastEventId !== null) target.searchParams.set("last_event_id", String(lastEventId));
    return target.toString();
  }

  /** One frame: a JSON array of events. */
  function receive(text) {
    let events;
    try {
      events = JSON.parse(text);
    } catch (_) {
      return;
    }
    if (!Array.isArray(events)) return;
    for (const event of events) {
      if (!event || event.type === "keepalive") continue;
      if (event.type === "hello") {
        if (lastEventId === null) lastEventId = event.data.last_event_id;
        attempt = 0;
        wsFailures = 0;
        clearTimeout(attemptTimer);
        setState("live", { transport });
      } else if (event.type === "reset") {
        lastEventId = event.data.last_event_id;
      } else if (event.id !== null && event.id !== undefined) {
        if (lastEventId !== null && event.id <= lastEventId) continue; // seen already
        lastEventId = event.id;
      }
      try {
        onEvent(event);
      } catch (error) {
        console.error("realtime: onEvent failed", error);
      }
    }
  }

  function open() {
    retryTimer = null;
    if (closed) return;
    if (navigator.onLine === false) {
      setState("offline", { reason: "browser_offline" });
      return;
    }
    if (state === null) setState("connecting");
    clearTimeout(attemptTimer);
    attemptTimer = setTimeout(giveUp, connectTimeout);
    if (transport === "websocket") openWebSocket();
    else openEventSource();
  }

  /** The attempt neither reached hello nor failed in time: fail it ourselves. */
  function giveUp() {
    const current = socket;
    if (!current) return;
    if (transport === "websocket") current.onclose({ code: 1006 });
    else current.onerror();
    current.close();
  }

  function openWebSocket() {
    const ws = new WebSocket(url(`/ws/broadcasts/${broadcastId}/`, "ws"));
    let opened = false;
    socket = ws;
    ws.onopen = () => {
      opened = true;
      watchIdle();
    };
    ws.onmessage = (message) => {
      if (socket !== ws) return;
      watchIdle();
      receive(message.data);
    };
    ws.onclose = (close) => {
      if (socket !== ws) return;
      socket = null;
      clearTimeout(idleTimer);
      if (close.code === CLOSE_NOT_FOUND || close.code === CLOSE_FORBIDDEN) {
        stop({ reason: close.code === CLOSE_NOT_FOUND ? "not_found" : "forbidden" });
        return;
      }
      if (!opened && ++wsFailures >= WS_FAILURES_BEFORE_SSE && mayFallBack) {
        transport = "sse"; // WebSocket may be blocked on this network: SSE, while it works
      }
      retry(close.code === CLOSE_SLOW_CONSUMER ? 0 : undefined);
    };
  }

  function openEventSource() {
    const source = new EventSource(url(`/sse/broadcasts/${broadcastId}/`), {
      withCredentials: base.origin !== window.location.origin,
    });
    let heard = false;
    socket = source;
    source.onmessage = (message) => {
      if (socket !== source) return;
      heard = true;
      receive(message.data);
    };
    source.onerror = () => {
      if (socket !== source) return;
      if (!heard && fellBack()) {
        // SSE fails too: the server is out of reach, not the WebSocket blocked. Go back to
        // WebSocket first, so a page is not left on SSE for good by a server restart.
        transport = "websocket";
        wsFailures = 0;
      }
      // Reconnect ourselves (with backoff, resuming from our own lastEventId) rather than
      // leave it to EventSource, which gives up for good on an HTTP error.
      source.close();
      socket = null;
      retry();
    };
  }

  function watchIdle() {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (socket && transport === "websocket") socket.close(); // onclose retries
    }, idleTimeout);
  }

  function retry(delay) {
    clearTimeout(attemptTimer);
    if (closed) return;
    setState(navigator.onLine === false ? "offline" : "reconnecting", { transport });
    if (navigator.onLine === false) return; // "online" reconnects
    const ceiling = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** attempt);
    attempt += 1;
    const wait = delay ?? ceiling / 2 + (Math.random() * ceiling) / 2;
    retryTimer = setTimeout(open, wait);
  }

  function hangUp() {
    clearTimeout(retryTimer);
    clearTimeout(idleTimer);
    clearTimeout(attemptTimer);
    retryTimer = null;
    const current = socket;
    socket = null;
    if (current) current.close();
  }

  function stop(detail) {
    closed = true;
    hangUp();
    window.removeEventListener("online", onOnline);
    window.removeEventListener("offline", onOffline);
    setState("offline", detail);
  }

  function onOnline() {
    if (closed || socket) return;
    clearTimeout(retryTimer);
    attempt = 0;
    open();
  }

  function onOffline() {
    if (closed) return;
    hangUp();
    setState("offline", { reason: "browser_offline" });
  }

  window.addEventListener("online", onOnline);
  window.addEventListener("offline", onOffline);
  open();

  return {
    /** Send a client message (reaction, comment, ping); false unless a WebSocket is open. */
    send(message) {
      if (!socket || transport !== "websocket" || socket.readyState !== WebSocket.OPEN) {
        return false;
      }
      socket.send(JSON.stringify(message));
      return true;
    },
    /** Disconnect for good. */
    close() {
      if (!closed) stop({ reason: "closed" });
    },
    get state() {
      return state;
    },
    get transport() {
      return transport;
    },
    get lastEventId() {
      return lastEventId;
    },
  };
}
