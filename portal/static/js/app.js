// Small progressive enhancements; the pages work without them.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-confirm]");
    if (target && !window.confirm(target.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  // htmx forms: the confirmation happens before the request is sent.
  document.addEventListener("htmx:confirm", function (event) {
    var form = event.detail.elt;
    var source = form && form.closest ? form.closest("[data-confirm-submit]") : null;
    if (source && !window.confirm(source.getAttribute("data-confirm-submit"))) {
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-copy]");
    if (!target) return;
    var source = document.getElementById(target.getAttribute("data-copy"));
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent).then(function () {
        target.textContent = "Copied";
      }, function () {
        target.textContent = "Copy failed: select the text instead";
      });
    }
  });

  // The top bar's menu button on narrow screens.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-nav-toggle]");
    if (!toggle) return;
    var menu = document.getElementById(toggle.getAttribute("aria-controls"));
    if (!menu) return;
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    menu.classList.toggle("open", open);
  });

  // Rows that open a detail row below them (the audit log).
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-toggle-row]");
    if (!toggle) return;
    var row = document.getElementById(toggle.getAttribute("data-toggle-row"));
    if (!row) return;
    row.hidden = !row.hidden;
    toggle.setAttribute("aria-expanded", row.hidden ? "false" : "true");
  });

  // The wizard's name step: the default AWS names follow the integration name as it is typed.
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input || input.name !== "name" || !input.form) return;
    var safe = input.value.replace(/[^A-Za-z0-9_-]/g, "-") || "<integration name>";
    input.form.querySelectorAll("[data-default-prefix]").forEach(function (field) {
      field.setAttribute("placeholder", field.getAttribute("data-default-prefix") + "-" + safe);
    });
  });

  // -- One error path for every htmx request ------------------------------------------------
  // htmx drops 4xx/5xx bodies by default, so a refused form would do nothing visible. Here:
  // an HTML answer to a 4xx replaces the request's target (the server re-renders the form with
  // its errors); a plain-text 4xx goes into the form's error area; a 5xx or a network failure
  // shows the banner. Elements that handle their own errors (data-own-errors) are left alone.
  var BANNER_ID = "htmx-error-banner";

  function banner(message) {
    var box = document.getElementById(BANNER_ID);
    if (!box) return;
    var text = box.querySelector("[data-banner-text]");
    if (text) text.textContent = message;
    box.hidden = false;
    box.focus();
  }

  function hideBanner() {
    var box = document.getElementById(BANNER_ID);
    if (box) box.hidden = true;
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-banner-close]")) hideBanner();
  });

  function errorArea(elt) {
    var form = elt && elt.closest ? elt.closest("form") || elt.querySelector("form") : null;
    var scope = form || elt;
    if (!scope) return null;
    var area = scope.querySelector("[data-error-area]");
    if (!area && form) {
      area = document.createElement("div");
      area.setAttribute("data-error-area", "");
      area.setAttribute("role", "alert");
      area.className = "error";
      form.insertBefore(area, form.firstChild);
    }
    return area;
  }

  function ownsErrors(elt) {
    return !!(elt && elt.closest && elt.closest("[data-own-errors]"));
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var xhr = detail.xhr;
    var status = xhr.status;
    if (status < 400) {
      hideBanner();
      return;
    }
    var elt = detail.requestConfig ? detail.requestConfig.elt : detail.elt;
    if (ownsErrors(elt) || ownsErrors(detail.target)) return;
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (status < 500 && type.indexOf("text/html") === 0 && xhr.responseText) {
      detail.shouldSwap = true;
      detail.isError = false;
      return;
    }
    detail.shouldSwap = false;
    if (status < 500) {
      detail.isError = false;  // handled here: no htmx:responseError in the console
      var area = errorArea(elt);
      var message = (xhr.responseText || "").trim() || "The request was refused (" + status + ").";
      if (type.indexOf("application/json") === 0) {
        try {
          message = JSON.parse(xhr.responseText).detail || message;
        } catch (ignored) { /* keep the raw text */ }
      }
      if (area) {
        area.textContent = message;
      } else {
        banner(message);
      }
      return;
    }
    banner(
      "The server could not complete the request (" + status + "). Nothing was changed; " +
      "try again in a moment, and tell an operator if it keeps happening."
    );
  });

  document.addEventListener("htmx:sendError", function () {
    banner("Rolegate could not be reached. Check your connection and try again.");
  });
  document.addEventListener("htmx:timeout", function () {
    banner("The server took too long to answer. Try again in a moment.");
  });
})();
