// 添加固件: check the fields on the server, then send the file as a raw body with a progress bar.
// A raw body streams about three times faster than a multipart form on the server (DESIGN.md 7).
// Without JavaScript the form posts as multipart and the server does the same checks.
(function () {
  "use strict";
  var token = function () { return document.querySelector('meta[name="csrf-token"]').content; };
  var FIELDS = ["name", "product", "version", "description"];

  function clearErrors(form) {
    form.querySelectorAll(".error.js-error").forEach(function (el) { el.remove(); });
  }

  function fieldError(form, name, message) {
    var box = form.querySelector("#field-" + name);
    var div = document.createElement("div");
    div.className = "error js-error";
    div.textContent = message;
    box.classList.add("has-error");
    box.appendChild(div);
  }

  function busy(form, on) {
    form.querySelector('button[type="submit"]').disabled = on;
  }

  function progress(form, fraction, label) {
    var box = form.querySelector(".upload-progress");
    var pct = Math.floor(fraction * 100);
    box.hidden = false;
    box.querySelector(".progress").setAttribute("aria-valuenow", pct);
    box.querySelector(".progress-bar").style.width = pct + "%";
    box.querySelector(".progress-text").textContent = label;
  }

  // Swap in the server's form (with its messages) but keep the chosen file, so the user need
  // not pick a 1 GB file again.
  function replaceForm(form, html) {
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var fresh = holder.querySelector("#firmware-form");
    if (!fresh) { return failed(form); }
    var chosen = form.querySelector('input[type="file"]');
    var slot = fresh.querySelector('input[type="file"]');
    if (chosen && slot) { slot.replaceWith(chosen); }
    form.replaceWith(fresh);
  }

  function failed(form, xhr) {
    busy(form, false);
    form.querySelector(".upload-progress").hidden = true;
    var text = form.dataset.msgFailed;
    if (xhr && xhr.responseText) {
      var holder = document.createElement("div");
      holder.innerHTML = xhr.responseText;
      var msg = holder.querySelector(".error-message");
      if (msg) { text = msg.textContent; }
    }
    (window.otaToast || alert)(text);
  }

  function send(form, file, values) {
    var query = new URLSearchParams();
    FIELDS.forEach(function (k) { query.append(k, values.get(k) || ""); });
    query.append("filename", file.name);
    var xhr = new XMLHttpRequest();
    var started = Date.now();
    xhr.open("PUT", form.dataset.uploadUrl + "?" + query.toString());
    xhr.setRequestHeader("X-CSRFToken", token());
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) { return; }
      var mbps = e.loaded / 1048576 / Math.max((Date.now() - started) / 1000, 0.001);
      progress(form, e.loaded / e.total, form.dataset.msgUploading + " " +
        Math.floor(100 * e.loaded / e.total) + "% · " + mbps.toFixed(1) + " MB/s");
    };
    xhr.upload.onload = function () { progress(form, 1, form.dataset.msgSaving); };
    xhr.onload = function () {
      if (xhr.status === 201) {
        window.location.assign(JSON.parse(xhr.responseText).location);
      } else if (xhr.status === 422 || xhr.status === 413) {
        replaceForm(form, xhr.responseText);
      } else {
        failed(form, xhr);
      }
    };
    xhr.onerror = function () { failed(form); };
    progress(form, 0, form.dataset.msgUploading + " 0%");
    xhr.send(file);
  }

  function start(form) {
    clearErrors(form);
    var input = form.querySelector('input[type="file"]');
    var file = input.files && input.files[0];
    // The browser knows the size before sending a byte: refuse a too-large file here, so the
    // user never waits for (or gets a connection reset from) a body the server will refuse.
    if (file && file.size > Number(form.dataset.maxBytes)) {
      return fieldError(form, "file", form.dataset.msgTooLarge);
    }
    var values = new FormData(form);
    var body = new URLSearchParams();
    values.forEach(function (v, k) { if (k !== "file") { body.append(k, v); } });
    body.append("filename", file ? file.name : "");
    body.append("size", file ? String(file.size) : "");
    busy(form, true);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.checkUrl);
    xhr.setRequestHeader("X-CSRFToken", token());
    xhr.setRequestHeader("Content-Type", "application/x-www-form-urlencoded");
    xhr.onload = function () {
      if (xhr.status === 204) { return send(form, file, values); }
      if (xhr.status === 422 || xhr.status === 413) { return replaceForm(form, xhr.responseText); }
      failed(form, xhr);
    };
    xhr.onerror = function () { failed(form); };
    xhr.send(body.toString());
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.id !== "firmware-form" || !window.FormData || !window.URLSearchParams) { return; }
    e.preventDefault();
    start(form);
  });
})();
