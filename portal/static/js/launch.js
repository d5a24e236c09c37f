// The launch dialog on the Resources page: open it when htmx has loaded its content, close it on
// request, and let refusals (403), bad input (400) and AWS errors (502/503) replace its content
// so the user reads the reason instead of a silent no-op (htmx skips 4xx/5xx swaps by default).
(function () {
  "use strict";
  var BODY_ID = "launch-dialog-body";

  function dialog() {
    return document.getElementById("launch-dialog");
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== BODY_ID) return;
    var status = event.detail.xhr.status;
    if (status === 400 || status === 403 || status === 502 || status === 503) {
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
