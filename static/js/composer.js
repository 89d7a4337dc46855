/*
 * The watch page's comment box and what it tells the viewer before they type: whether the
 * broadcast is live, whether they are banned or timed out (until when), and the chat rules
 * (slow mode, links, blocked words). watch.js creates it and feeds it state:
 *
 *   const chat = LiveVideoComposer.create(root, {api, errorMessage, onPosted, ...});
 *   chat.setLive(bool); chat.setYou({role, barred}); chat.setRules(rules);
 *   chat.viewerState({user_id, barred});  // the stream's `viewer.state` event
 *   chat.held();                            // the stream's `comment.held` event
 *   chat.refusal();                         // why this viewer cannot take part now, or null
 *
 * User text is only ever set with textContent.
 */
(function () {
  "use strict";

  const EXPECTED = /\s*Expected available in \d+ seconds?\.?$/; // DRF's 429 suffix

  function rulesText(rules) {
    const parts = [];
    if (rules.slow_mode_seconds > 0) {
      parts.push("Slow mode: one comment every " + rules.slow_mode_seconds + " s");
    }
    if (rules.links_allowed === false) parts.push("no links");
    if (rules.blocked_words) parts.push("some words are blocked");
    if (!parts.length) return "";
    const text = parts.join(" · ");
    return text.charAt(0).toUpperCase() + text.slice(1) + ".";
  }

  function create(root, options) {
    const composer = root.querySelector("[data-composer]");
    const rulesBox = root.querySelector("[data-chat-rules]");
    const userId = options.userId;
    const commentMax = options.commentMax;
    const times = window.LiveVideoTimes;
    let live = false;
    let you = { role: userId ? "viewer" : "anonymous", barred: null };
    let rules = {};
    let waitUntil = 0; // rate limited or slow mode: no sending before this time (ms)
    let waitTimer = null;
    let barredTimer = null;

    const textarea = composer && composer.querySelector("textarea");
    const note = composer && composer.querySelector("[data-composer-note]");
    const errorBox = composer && composer.querySelector("[data-composer-error]");
    const send = composer && composer.querySelector("[type=submit]");

    /** Why this viewer may not comment or react now (null: they may). */
    function refusal() {
      const barred = you.barred;
      if (!barred) return null;
      if (barred.until === null) return "You are banned from this broadcast's chat.";
      const left = Math.ceil((Date.parse(barred.until) - Date.now()) / 1000);
      if (left <= 0) return null;
      const wait = left >= 90 ? Math.ceil(left / 60) + " min" : left + " s";
      return "You are timed out until " + times.format(barred.until) + " (" + wait + " left).";
    }

    function render() {
      if (rulesBox) {
        rulesBox.textContent = rulesText(rules);
        rulesBox.hidden = !rulesBox.textContent;
      }
      if (!composer) return;
      const refused = refusal();
      textarea.disabled = !live || Boolean(refused);
      note.textContent = refused || (live ? "" : "Comments are open while the broadcast is live.");
      note.hidden = !note.textContent;
      note.classList.toggle("form-note-barred", Boolean(refused));
      composer.classList.toggle("is-barred", Boolean(refused));
      update();
    }

    function update() {
      if (!composer) return;
      const length = textarea.value.length;
      const counter = composer.querySelector("[data-counter]");
      counter.textContent = length + " / " + commentMax;
      counter.classList.toggle("counter-warn", length > commentMax * 0.9);
      send.disabled =
        textarea.disabled || !textarea.value.trim() || length > commentMax || Date.now() < waitUntil;
    }

    /** Keep the time-out's countdown current, and open the box again when it is over. */
    function watchBarred() {
      clearInterval(barredTimer);
      if (you.barred && you.barred.until) barredTimer = setInterval(render, 1000);
    }

    /** Show the reason with a countdown, and keep Send disabled until it is over. */
    function waitBeforeSending(reason, seconds) {
      reason = reason.replace(EXPECTED, "");
      waitUntil = Date.now() + seconds * 1000;
      clearInterval(waitTimer);
      const tick = () => {
        const left = Math.ceil((waitUntil - Date.now()) / 1000);
        if (left <= 0) {
          clearInterval(waitTimer);
          options.showError(errorBox, "");
        } else {
          options.showError(errorBox, reason + " You can send again in " + left + " s.");
        }
        update();
      };
      waitTimer = setInterval(tick, 1000);
      tick();
    }

    /** Tell the sender their comment waits for a moderator (REST's 202, or the stream's
     * `comment.held`, which only its sender gets). */
    function held() {
      if (errorBox) options.showError(errorBox, "Your comment is held for a moderator's review.");
    }

    async function submit(text) {
      send.disabled = true;
      try {
        const result = await options.api(options.apiBase + "comments/", {
          method: "POST",
          body: JSON.stringify({ text: text }),
        });
        if (result.status === 429 && result.retryAfter) {
          waitBeforeSending(options.errorMessage(result), result.retryAfter);
        } else if (!result.ok) {
          options.showError(errorBox, options.errorMessage(result));
        } else {
          // The stream may have shown the comment already and the viewer typed on: keep that.
          if (textarea.value.trim() === text) textarea.value = "";
          if (result.body.held) {
            held();
          } else {
            options.showError(errorBox, "");
            options.onPosted(result.body);
          }
          if (rules.slow_mode_seconds > 0) {
            waitBeforeSending("Slow mode is on.", rules.slow_mode_seconds);
          }
        }
      } catch (_) {
        options.showError(errorBox, options.networkError);
      } finally {
        update();
      }
    }

    if (composer) {
      textarea.addEventListener("input", update);
      textarea.addEventListener("keydown", (keyEvent) => {
        // Enter sends, Shift+Enter makes a new line, as in most chats.
        if (keyEvent.key === "Enter" && !keyEvent.shiftKey && !keyEvent.isComposing) {
          keyEvent.preventDefault();
          if (!send.disabled) composer.requestSubmit();
        }
      });
      composer.addEventListener("submit", (submitEvent) => {
        submitEvent.preventDefault();
        const text = textarea.value.trim();
        if (!text) return options.showError(errorBox, "Write something first.");
        if (text.length > commentMax) {
          return options.showError(errorBox, "Comments are at most " + commentMax + " characters.");
        }
        submit(text);
      });
    }

    return {
      refusal: refusal,
      update: update,
      held: held,
      setLive(value) {
        live = value;
        render();
      },
      setYou(value) {
        if (value) you = value;
        watchBarred();
        render();
      },
      setRules(value) {
        rules = value || {};
        render();
      },
      viewerState(data) {
        if (userId === null || Number(data.user_id) !== userId) return;
        you = Object.assign({}, you, { barred: data.barred });
        watchBarred();
        render();
      },
    };
  }

  window.LiveVideoComposer = { create: create, rulesText: rulesText };
})();
