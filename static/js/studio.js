/*
 * The studio: ask before irreversible actions (going live, ending, removing a comment).
 * Forms opt in with data-confirm="Question?"; without JavaScript they simply submit.
 */
(function () {
  "use strict";

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });
})();
