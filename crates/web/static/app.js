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

  // "Customer viewing" holds until data-left seconds from when it was drawn
  // unless the page is re-read meanwhile: then the live regions are read
  // again (still open: the mark comes back with a later time), or, without
  // a live stream, the mark just goes.
  var refreshAll = null;
  function presence() {
    document.querySelectorAll("[data-until]").forEach(function (el) {
      if (el.dataset.armed) return;
      el.dataset.armed = "1";
      var left = parseInt(el.dataset.left, 10);
      if (!(left > 0)) left = Math.max(1, Math.round((Date.parse(el.dataset.until) - Date.now()) / 1000));
      setTimeout(function () {
        if (!el.isConnected) return;
        el.hidden = true;
        if (refreshAll) refreshAll();
      }, left * 1000);
    });
  }

  // Copy buttons: data-copy names the input whose value they copy.
  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (b) {
      var input = document.getElementById(b.dataset.copy);
      if (!input) return;
      b.hidden = false;
      b.addEventListener("click", function () {
        var done = function () { b.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
        } else {
          input.select();
          try { document.execCommand("copy"); done(); } catch (e) { /* selected for the user */ }
        }
      });
    });
  }

  // Work that just arrived in this person's queues (a "handoff" event,
  // which only they hear): named at the top of whatever page is open, with
  // a link to the ticket, until dismissed.
  var QUEUE_LABELS = { qualification: "findings to qualify", parts: "parts to price, order or receive", completion: "approved work to do" };
  function handoff(e) {
    var box = document.querySelector("[data-handoffs]");
    if (!box || !e.ticket_id) return;
    var old = box.querySelector('[data-ticket="' + e.ticket_id + '"]');
    if (old) old.remove();
    var p = document.createElement("p");
    p.className = "flash warn handoff";
    p.setAttribute("role", "status");
    p.dataset.testid = "handoff";
    p.dataset.ticket = e.ticket_id;
    var what = (e.queues || []).map(function (q) { return QUEUE_LABELS[q] || q; }).join(", and ");
    var a = document.createElement("a");
    a.href = "/app/tickets/" + encodeURIComponent(e.ticket_id);
    a.textContent = "Ticket " + (e.ticket_number || "") + " waits for you" + (what ? ": " + what : "");
    var close = document.createElement("button");
    close.type = "button";
    close.className = "secondary small";
    close.textContent = "Dismiss";
    close.addEventListener("click", function () { p.remove(); });
    p.appendChild(a);
    p.appendChild(document.createTextNode(" "));
    p.appendChild(close);
    box.prepend(p);
  }

  // A region marked data-live-src is re-read from that URL whenever the
  // server announces a change on the page's event stream.
  function live() {
    var src = document.body.dataset.events;
    if (!src || !window.EventSource) return;
    var regions = document.querySelectorAll("[data-live-src]");
    var pending = null;
    function refresh() {
      pending = null;
      regions.forEach(function (r) {
        fetch(r.dataset.liveSrc, { credentials: "same-origin", headers: { "x-fragment": "1" } })
          .then(function (resp) { return resp.ok ? resp.text() : null; })
          .then(function (html) {
            if (html !== null) { r.innerHTML = html; tick(); presence(); }
          })
          .catch(function () {});
      });
    }
    refreshAll = function () { if (!pending) pending = setTimeout(refresh, 100); };
    var es = new EventSource(src);
    es.onmessage = function (m) {
      var e = null;
      try { e = JSON.parse(m.data); } catch (err) { /* re-read below */ }
      if (e && e.kind === "handoff") { handoff(e); return; }
      // Several events in a burst cause one re-read.
      if (regions.length && !pending) pending = setTimeout(refresh, 100);
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
  presence();
  copyButtons();
})();
