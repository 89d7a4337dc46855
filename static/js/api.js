/*
 * The REST API as the pages call it: JSON in and out, the session's CSRF token, and the
 * reason a refusal gives, in words for the viewer.
 *
 *   const result = await LiveVideoApi.request(path, {method, body});  // rejects only offline
 *   // result = {ok, status, body, retryAfter}
 *   LiveVideoApi.errorMessage(result);   // the API's reason, or a fallback by status
 *   LiveVideoApi.NETWORK_ERROR;          // what to say when the server could not be reached
 */
(function () {
  "use strict";

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  /** Fetch JSON; resolves to {ok, status, body, retryAfter}, rejects only on network failure. */
  async function request(path, options) {
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
    const retryAfter = Number(response.headers.get("Retry-After")) || 0;
    return { ok: response.ok, status: response.status, body: body, retryAfter: retryAfter };
  }

  const FALLBACK_ERRORS = {
    401: "You are signed out. Sign in again to take part.",
    403: "You are not allowed to do that.",
    404: "This broadcast no longer exists.",
    409: "The broadcast is not live.",
    429: "You are going a bit fast: wait a moment and try again.",
  };

  /** The API's reason: {"detail": ...} or field errors {"field": ["..."]}. */
  function errorMessage(result) {
    const body = result.body;
    // DRF's wording for a lost session is not helpful to a viewer.
    if (result.status === 401 || /credentials were not provided/i.test((body && body.detail) || "")) {
      return FALLBACK_ERRORS[401];
    }
    if (body && typeof body.detail === "string") return body.detail;
    if (body && typeof body === "object") {
      const reasons = Object.values(body).flat().filter((r) => typeof r === "string");
      if (reasons.length) return reasons.join(" ");
    }
    return FALLBACK_ERRORS[result.status] || "Something went wrong (" + result.status + ").";
  }

  window.LiveVideoApi = {
    csrfToken: csrfToken,
    request: request,
    errorMessage: errorMessage,
    NETWORK_ERROR: "Could not reach the server. Check your connection and try again.",
  };
})();
