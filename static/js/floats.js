/*
 * Floating reactions: emoji that rise and fade over the video.
 *
 * LiveVideoFloats.create(layer) returns {burst(counts, icons)}: counts is {kind: n}. However
 * many taps arrive, at most MAX_SPRITES float per burst, in proportion to each kind's share,
 * so a busy broadcast stays smooth. Sprites move with CSS transform and opacity only and are
 * removed when their animation ends. With prefers-reduced-motion nothing floats.
 */
(function () {
  "use strict";

  const MAX_SPRITES = 8;
  const MAX_ALIVE = 40; // never more nodes than this on screen, whatever the rate
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  /** How many sprites of each kind to show for `counts`, at most `limit` in all. */
  function sample(counts, limit) {
    const total = Object.values(counts).reduce((sum, n) => sum + Math.max(0, n), 0);
    const scale = total > limit ? limit / total : 1;
    const shown = {};
    for (const [kind, n] of Object.entries(counts)) {
      if (n <= 0) continue;
      const exact = n * scale;
      // Random rounding keeps each kind's share right on average, even for small kinds.
      shown[kind] = Math.floor(exact) + (Math.random() < exact - Math.floor(exact) ? 1 : 0);
    }
    return shown;
  }

  function create(layer) {
    function spawn(icon, delay) {
      if (!layer || layer.childElementCount >= MAX_ALIVE) return;
      const sprite = document.createElement("span");
      sprite.className = "float-sprite";
      sprite.textContent = icon;
      sprite.style.left = 8 + Math.random() * 80 + "%";
      sprite.style.setProperty("--drift", Math.round((Math.random() - 0.5) * 80) + "px");
      sprite.style.animationDelay = delay + "ms";
      const done = () => sprite.remove();
      sprite.addEventListener("animationend", done, { once: true });
      // A tab in the background may never fire animationend: clean up anyway.
      setTimeout(done, 4000 + delay);
      layer.append(sprite);
    }

    function burst(counts, icons) {
      if (reducedMotion.matches) return;
      const shown = sample(counts, MAX_SPRITES);
      let index = 0;
      for (const [kind, n] of Object.entries(shown)) {
        for (let i = 0; i < n; i += 1) spawn(icons[kind] || "❤️", index++ * 90);
      }
    }

    return { burst: burst };
  }

  window.LiveVideoFloats = { create: create, sample: sample };
})();
