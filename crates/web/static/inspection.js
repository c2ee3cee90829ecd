// The technician's inspection page on a phone: one section per screen, a
// tap on a condition saves that finding at once, photos and videos upload
// in the background with progress and retry. Without this script the same
// forms post and come back to the page.
(function () {
  "use strict";
  var root = document.querySelector("[data-inspection]");
  if (!root) return;
  var csrf = root.dataset.csrf;
  var maxBytes = Number(root.dataset.maxMb || "100") * 1024 * 1024;
  var pending = 0;
  var submitWhenIdle = null;

  function busy(delta) {
    pending += delta;
    if (pending === 0 && submitWhenIdle) {
      var f = submitWhenIdle;
      submitWhenIdle = null;
      f.submit();
    }
  }

  // Sections, one per screen.
  var sections = Array.prototype.slice.call(root.querySelectorAll("[data-section]"));
  var nav = root.querySelector("[data-section-nav]");
  var key = "pitwall-insp-section-" + root.dataset.inspection;
  var current = 0;
  function show(n, scroll) {
    current = Math.max(0, Math.min(sections.length - 1, n));
    sections.forEach(function (s, i) { s.hidden = i !== current; });
    var h = sections[current].querySelector("h2");
    nav.querySelector("[data-section-label]").textContent =
      (current + 1) + " of " + sections.length + ": " + (h ? h.firstChild.textContent.trim() : "");
    nav.querySelector("[data-prev]").disabled = current === 0;
    nav.querySelector("[data-next]").disabled = current === sections.length - 1;
    try { sessionStorage.setItem(key, String(current)); } catch (e) { /* private mode */ }
    if (scroll) window.scrollTo(0, nav.offsetTop);
  }
  if (sections.length > 1 && nav) {
    nav.hidden = false;
    var start = 0;
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (target) {
      sections.forEach(function (s, i) { if (s.contains(target)) start = i; });
    } else {
      try { start = Number(sessionStorage.getItem(key) || "0"); } catch (e) { start = 0; }
    }
    nav.querySelector("[data-prev]").addEventListener("click", function () { show(current - 1, true); });
    nav.querySelector("[data-next]").addEventListener("click", function () { show(current + 1, true); });
    show(start, false);
    if (target) target.scrollIntoView();
  }

  function progress() {
    var items = root.querySelectorAll("[data-finding-form]");
    var checked = root.querySelectorAll("[data-finding-form] input[name=condition]:checked").length;
    var p = document.querySelector("[data-testid=inspection-progress]");
    if (p) p.textContent = checked + " of " + items.length + " items checked";
    sections.forEach(function (s) {
      var count = s.querySelector("[data-section-count]");
      if (count) {
        count.textContent = s.querySelectorAll("input[name=condition]:checked").length + "/" +
          s.querySelectorAll("[data-finding-form]").length;
      }
    });
  }

  function readJson(resp) {
    var type = resp.headers.get("content-type") || "";
    if (resp.redirected || type.indexOf("application/json") !== 0) {
      return Promise.resolve({ error: "Your session ended or the page is out of date: reload the page." });
    }
    return resp.json();
  }

  // A tap saves its finding. Saves of one finding go one at a time; a
  // change made while one is on its way is sent right after it.
  root.querySelectorAll("[data-finding-form]").forEach(function (form) {
    var item = form.closest("[data-key]");
    var state = form.querySelector("[data-save-state]");
    var button = form.querySelector("[data-save]");
    if (!state) return;
    if (button) button.hidden = true;
    var inFlight = false, again = false, wait = 1000;
    function say(text, bad) {
      state.textContent = text;
      state.classList.toggle("bad", !!bad);
    }
    function save() {
      if (inFlight) { again = true; return; }
      inFlight = true;
      busy(1);
      say("Saving…");
      fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { accept: "application/json" },
        credentials: "same-origin",
      }).then(function (resp) {
        return readJson(resp).then(function (body) {
          inFlight = false;
          if (resp.ok && body.saved) {
            wait = 1000;
            say("Saved");
            var c = form.querySelector("input[name=condition]:checked");
            item.className = item.className.replace(/\b(good|needs_attention|urgent|not_checked)\b/g, "").trim() +
              " " + (c ? c.value : "not_checked");
            // The finding's service is offered once it needs work.
            var offer = item.querySelector("[data-add-service]");
            if (offer) offer.hidden = !(c && (c.value === "needs_attention" || c.value === "urgent"));
            var need = item.querySelector("[data-testid=photo-needed]");
            if (body.needs_photo && !need) {
              need = document.createElement("p");
              need.className = "small photo-needed";
              need.dataset.testid = "photo-needed";
              need.textContent = "A photo is needed before handing in.";
              form.insertAdjacentElement("afterend", need);
            } else if (!body.needs_photo && need) {
              need.remove();
            }
            progress();
            busy(-1);
            if (again) { again = false; save(); }
          } else {
            say(body.error || "Not saved.", true);
            busy(-1);
          }
        });
      }).catch(function () {
        // No network (a dead spot in the shop): keep trying.
        inFlight = false;
        say("No connection: saving again in " + Math.round(wait / 1000) + " s", true);
        setTimeout(function () { busy(-1); save(); }, wait);
        wait = Math.min(wait * 2, 30000);
      });
    }
    form.addEventListener("change", save);
    form.addEventListener("submit", function (e) { e.preventDefault(); save(); });
  });

  function mediaItem(item, m) {
    var li = document.createElement("li");
    var label = item.querySelector("h3").textContent;
    if (m.video) {
      var v = document.createElement("video");
      v.controls = true; v.preload = "metadata"; v.setAttribute("playsinline", "");
      v.src = m.url; v.setAttribute("aria-label", "Video of " + label);
      li.appendChild(v);
    } else {
      var a = document.createElement("a");
      a.href = m.url;
      if (m.thumb) {
        var img = document.createElement("img");
        img.src = m.thumb; img.alt = "Photo of " + label; img.width = 96; img.height = 72;
        a.appendChild(img);
      } else {
        a.textContent = "Photo of " + label;
      }
      li.appendChild(a);
    }
    li.dataset.testid = "uploaded";
    return li;
  }

  // Photos and videos: each chosen file uploads on its own, with a
  // progress bar; a dropped connection retries, then offers a button.
  root.querySelectorAll("[data-upload-form]").forEach(function (form) {
    var item = form.closest("[data-key]");
    var input = form.querySelector("input[type=file]");
    var list = form.querySelector("[data-uploads]");
    var media = item.querySelector("[data-media-list]");
    var button = form.querySelector("[data-upload-submit]");
    if (button) button.hidden = true;

    function send(file, row, tries) {
      var bar = row.querySelector("progress");
      var note = row.querySelector("span");
      var body = new FormData();
      body.append("csrf", csrf);
      body.append("file", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("accept", "application/json");
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) bar.value = e.loaded / e.total;
      };
      function failed(message, retry) {
        bar.hidden = true;
        note.textContent = message;
        note.classList.add("bad");
        if (retry && tries < 3) {
          note.textContent = message + " Trying again…";
          setTimeout(function () { note.classList.remove("bad"); bar.hidden = false; send(file, row, tries + 1); }, 1000 * Math.pow(2, tries));
          return;
        }
        busy(-1);
        if (retry) {
          var again = document.createElement("button");
          again.type = "button"; again.className = "secondary small"; again.textContent = "Retry";
          again.addEventListener("click", function () {
            again.remove(); note.classList.remove("bad"); bar.hidden = false; bar.value = 0;
            note.textContent = "Uploading " + file.name;
            busy(1);
            send(file, row, 0);
          });
          row.appendChild(again);
        }
      }
      xhr.onload = function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (xhr.status === 201 && body) {
          media.appendChild(mediaItem(item, body));
          var need = item.querySelector("[data-testid=photo-needed]");
          if (need) need.remove();
          row.remove();
          busy(-1);
        } else if (xhr.status >= 500 || xhr.status === 429) {
          failed("Upload failed.", true);
        } else {
          failed((body && body.error) || "Upload refused: reload the page and sign in again.", false);
        }
      };
      xhr.onerror = function () { failed("No connection.", true); };
      xhr.send(body);
    }

    input.addEventListener("change", function () {
      Array.prototype.forEach.call(input.files, function (file) {
        var row = document.createElement("li");
        var note = document.createElement("span");
        var bar = document.createElement("progress");
        bar.max = 1; bar.value = 0;
        bar.setAttribute("aria-label", "Upload of " + file.name);
        note.textContent = "Uploading " + file.name;
        row.appendChild(note); row.appendChild(bar);
        row.dataset.testid = "upload-row";
        list.appendChild(row);
        if (file.size > maxBytes) {
          bar.hidden = true;
          note.textContent = file.name + " is over the " + root.dataset.maxMb + " MB limit.";
          note.classList.add("bad");
          return;
        }
        busy(1);
        send(file, row, 0);
      });
      input.value = "";
    });
  });

  // Handing in waits for saves and uploads still on their way.
  var submit = document.querySelector("[data-testid=insp-submit]");
  if (submit) {
    submit.form.addEventListener("submit", function (e) {
      if (pending > 0) {
        e.preventDefault();
        submit.disabled = true;
        submit.textContent = "Waiting for uploads…";
        submitWhenIdle = submit.form;
      }
    });
  }
  progress();
})();
