// Signature capture: draw on a canvas with a finger, pen or mouse (pointer
// events); the drawing goes into a hidden field as a PNG data URL. Anyone
// who cannot draw may use their typed name instead: it is written into the
// box and sent the same way. Used by the customer's page and by staff
// recording an in-person approval.
(function () {
  "use strict";
  document.querySelectorAll("[data-signature]").forEach(function (box) {
    var canvas = box.querySelector("canvas");
    var field = box.querySelector("[data-signature-value]");
    var clear = box.querySelector("[data-signature-clear]");
    var typedWrap = box.querySelector("[data-signature-typed-wrap]");
    var typed = box.querySelector("[data-signature-typed]");
    var form = box.closest("form");
    var name = form && form.querySelector("[name=signer_name]");
    if (!canvas || !field) return;
    var ctx = canvas.getContext("2d");
    var drawing = false, drawn = false, last = null;
    if (clear) clear.hidden = false;
    if (typedWrap) typedWrap.hidden = false;

    function pen() {
      ctx.lineWidth = 3; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#101828";
    }
    function at(e) {
      var r = canvas.getBoundingClientRect();
      return { x: (e.clientX - r.left) * canvas.width / r.width, y: (e.clientY - r.top) * canvas.height / r.height };
    }
    function save() { field.value = drawn ? canvas.toDataURL("image/png") : ""; }
    function wipe() {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      drawn = false; save();
    }
    function writeName() {
      wipe();
      var text = name ? name.value.trim() : "";
      if (!text) return;
      ctx.fillStyle = "#101828";
      var size = 64;
      ctx.font = "italic " + size + "px Georgia, serif";
      while (ctx.measureText(text).width > canvas.width - 40 && size > 16) {
        size -= 4; ctx.font = "italic " + size + "px Georgia, serif";
      }
      ctx.fillText(text, 20, canvas.height / 2 + size / 3);
      drawn = true; save();
    }

    canvas.addEventListener("pointerdown", function (e) {
      if (typed && typed.checked) { typed.checked = false; wipe(); }
      drawing = true; last = at(e);
      canvas.setPointerCapture(e.pointerId);
      pen(); ctx.beginPath(); ctx.arc(last.x, last.y, 1.5, 0, 2 * Math.PI); ctx.fillStyle = "#101828"; ctx.fill();
      e.preventDefault();
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!drawing) return;
      var p = at(e);
      pen(); ctx.beginPath(); ctx.moveTo(last.x, last.y); ctx.lineTo(p.x, p.y); ctx.stroke();
      last = p; drawn = true;
      e.preventDefault();
    });
    function end() { if (drawing) { drawing = false; save(); } }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("pointerleave", end);
    if (clear) clear.addEventListener("click", function () { if (typed) typed.checked = false; wipe(); });
    if (typed) typed.addEventListener("change", function () { if (typed.checked) writeName(); else wipe(); });
    if (name) name.addEventListener("input", function () { if (typed && typed.checked) writeName(); });
  });
})();
