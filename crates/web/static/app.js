// Pitwall's little bit of script: ticking timers and live updates. Pages
// work without it (they are plain HTML); with it, they stay current.
(function () {
  "use strict";

  function fmt(secs) {
    var sign = secs < 0 ? "-" : "";
    var s = Math.abs(secs);
    var m = Math.floor((s % 3600) / 60);
    return sign + Math.floor(s / 3600) + "h " + (m < 10 ? "0" : "") + m + "m";
  }

  // Count-down: orange when a fifth of the time (at most 15 min) is left,
  // red when overdue. Count-up: elapsed. Same rule as the server's.
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-timer]").forEach(function (el) {
      var started = Date.parse(el.dataset.started);
      if (el.dataset.timer === "count_down" && el.dataset.due) {
        var due = Date.parse(el.dataset.due);
        var left = Math.round((due - now) / 1000);
        var warn = Math.min((due - started) / 5000, 15 * 60);
        el.textContent = fmt(left);
        el.classList.toggle("overdue", left <= 0);
        el.classList.toggle("warning", left > 0 && left <= warn);
      } else {
        el.textContent = fmt(Math.round((now - started) / 1000));
      }
    });
  }

  // A region marked data-live-src is re-read from that URL whenever the
  // server announces a change on the page's event stream.
  function live() {
    var src = document.body.dataset.events;
    if (!src || !window.EventSource) return;
    var regions = document.querySelectorAll("[data-live-src]");
    if (!regions.length) return;
    var pending = null;
    function refresh() {
      pending = null;
      regions.forEach(function (r) {
        fetch(r.dataset.liveSrc, { credentials: "same-origin", headers: { "x-fragment": "1" } })
          .then(function (resp) { return resp.ok ? resp.text() : null; })
          .then(function (html) {
            if (html !== null) { r.innerHTML = html; tick(); }
          })
          .catch(function () {});
      });
    }
    var es = new EventSource(src);
    es.onmessage = function () {
      // Several events in a burst cause one re-read.
      if (!pending) pending = setTimeout(refresh, 100);
    };
    es.onopen = function () { document.body.dataset.live = "on"; };
    // Back to a page the browser kept in memory: what changed meanwhile
    // was not heard, so read it again.
    window.addEventListener("pageshow", function (e) {
      if (e.persisted) refresh();
    });
  }

  tick();
  setInterval(tick, 1000);
  live();
})();
