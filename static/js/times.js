/*
 * One time format on every page: the viewer's local time, 24-hour ("14:05"), with the date when
 * it is not today ("Dec 5, 14:05"). Server-rendered <time datetime="..." data-local> elements
 * are rewritten on load; scripts format new ones with LiveVideoTimes.format(iso).
 */
(function () {
  "use strict";

  const TIME = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  const DATE = { month: "short", day: "numeric" };

  function format(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    const time = date.toLocaleTimeString([], TIME);
    if (date.toDateString() === new Date().toDateString()) return time;
    return date.toLocaleDateString([], DATE) + ", " + time;
  }

  function localize(root) {
    (root || document).querySelectorAll("time[datetime][data-local]").forEach((element) => {
      const text = format(element.dateTime);
      if (text) element.textContent = text;
    });
  }

  window.LiveVideoTimes = { format: format, localize: localize };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => localize());
  } else {
    localize();
  }
})();
