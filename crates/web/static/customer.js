// The customer's page: the status stays live (re-read on the page's event
// stream, which also tells the shop the page is open), the total follows
// the services chosen, and the confirmation prints. Everything here is
// readable without it.
(function () {
  "use strict";
  var body = document.body;
  var lang = body.dataset.lang || "en";
  var currency = body.dataset.currency || "USD";
  var fmt;
  try { fmt = new Intl.NumberFormat(lang, { style: "currency", currency: currency }); } catch (e) { fmt = null; }
  var digits = fmt ? fmt.resolvedOptions().maximumFractionDigits : 2;
  function money(minor) {
    var v = minor / Math.pow(10, digits);
    return fmt ? fmt.format(v) : v.toFixed(digits) + " " + currency;
  }
  // Half away from zero, as the server rounds.
  function divRound(n, d) { var q = n / d; return q < 0 ? -Math.round(-q) : Math.round(q); }

  var form = document.querySelector("[data-approval]");
  if (form) {
    var boxes = form.querySelectorAll("input[type=checkbox][data-subtotal]");
    var selOut = form.querySelector("[data-sel-subtotal]");
    var totOut = form.querySelector("[data-sel-total]");
    var update = function () {
      var sub = +form.dataset.baseSubtotal, taxable = +form.dataset.baseTaxable, sel = 0;
      boxes.forEach(function (b) {
        if (b.checked) sel += +b.dataset.subtotal;
        else { sub -= +b.dataset.subtotal; taxable -= +b.dataset.taxable; }
      });
      if (selOut) selOut.textContent = money(sel);
      if (totOut) totOut.textContent = money(sub + divRound(taxable * +form.dataset.ratePpm, 1000000));
    };
    boxes.forEach(function (b) { b.addEventListener("change", update); });
    form.addEventListener("submit", function () {
      var btn = form.querySelector("button[type=submit]");
      // One tap, one answer (the server also keeps a double submit to one record).
      setTimeout(function () { if (btn) btn.disabled = true; }, 0);
    });
  }

  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () { window.print(); });
  });

  var live = document.getElementById("live");
  var src = body.dataset.events;
  if (live && src && window.EventSource) {
    var shownVersion = live.dataset.version;
    var stale = document.querySelector(".stale");
    var pending = null;
    var refresh = function () {
      pending = null;
      fetch(live.dataset.liveSrc, { credentials: "same-origin", headers: { "x-fragment": "1" } })
        .then(function (r) {
          // Revoked or expired meanwhile: show the page that says so.
          if (r.status === 404 || r.status === 410) { window.location.reload(); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html === null) return;
          live.innerHTML = html;
          var facts = live.querySelector("[data-version]");
          if (stale && facts && facts.dataset.version !== shownVersion) stale.hidden = false;
        })
        .catch(function () {});
    };
    var es = new EventSource(src);
    es.onmessage = function () { if (!pending) pending = setTimeout(refresh, 100); };
    es.onopen = function () { body.dataset.live = "on"; };
    window.addEventListener("pageshow", function (e) { if (e.persisted) refresh(); });
  }
})();
