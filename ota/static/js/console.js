// Console glue: CSRF for htmx, error toasts, and the firmware upload progress bar.
(function () {
  "use strict";
  var token = function () { return document.querySelector('meta[name="csrf-token"]').content; };

  // htmx-ext-ws backs off up to 64 s by default; a console should be back within ~10 s.
  document.addEventListener("DOMContentLoaded", function () {
    htmx.config.wsReconnectDelay = function (n) { return Math.min(10000, 500 * Math.pow(2, n)) * (0.5 + Math.random() / 2); };
  });

  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRFToken"] = token();
  });

  // A refused htmx request (403, 404, 409, 500...) is not swapped; show its message instead.
  document.addEventListener("htmx:responseError", function (e) {
    var box = document.createElement("div");
    box.innerHTML = e.detail.xhr.responseText;
    var msg = box.querySelector(".error-message");
    toast(msg ? msg.textContent : (e.detail.xhr.status + " " + e.detail.xhr.statusText));
  });
  document.addEventListener("htmx:sendError", function () {
    toast(document.documentElement.lang === "en" ? "The server could not be reached." : "无法连接服务器。");
  });

  // A server's HX-Trigger {"ota:toast": {"value": text, "kind": "success"}} (an in-place save) shows a toast.
  document.addEventListener("ota:toast", function (e) { toast(e.detail.value, e.detail.kind); });

  function toast(text, kind) {
    var t = document.createElement("div");
    t.className = kind ? "toast toast-" + kind : "toast";
    t.textContent = text;
    document.getElementById("toasts").appendChild(t);
    setTimeout(function () { t.remove(); }, 6000);
  }
  // A form marked data-submit-once disables its submit buttons once sent, so a double click posts
  // once (the server also refuses a repeat); they come back when the page returns from the bfcache.
  document.addEventListener("submit", function (e) {
    if (!e.defaultPrevented && e.target.matches("form[data-submit-once]")) {
      e.target.querySelectorAll("[type=submit]").forEach(function (b) { b.disabled = true; });
    }
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submit-once] [type=submit]").forEach(function (b) { b.disabled = false; });
  });

  window.otaToast = toast;
})();
