// The launch dialog on the Resources page: open it when htmx has loaded its content, close it on
// request, and let every HTML error answer (bad input 400, refusal 403/404, rate limit 429,
// issuance refused 422, AWS errors 502/503) replace its content so the user reads the reason
// instead of a silent no-op (htmx skips 4xx/5xx swaps by default).
(function () {
  "use strict";
  var BODY_ID = "launch-dialog-body";

  function dialog() {
    return document.getElementById("launch-dialog");
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== BODY_ID) return;
    var xhr = event.detail.xhr;
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (xhr.status >= 400 && type.indexOf("text/html") === 0 && xhr.responseText) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== BODY_ID) return;
    var box = dialog();
    if (box && !box.open) box.showModal();
    var first = target.querySelector("select, button[type=submit]");
    if (first) first.focus();
  });

  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-close-dialog]")) return;
    var box = dialog();
    if (box && box.open) box.close();
  });

  document.addEventListener("close", function (event) {
    if (event.target === dialog()) {
      var body = document.getElementById(BODY_ID);
      if (body) body.textContent = "";
    }
  }, true);
})();
