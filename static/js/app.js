/* perfcycle page behaviour. Loaded as a file (CSP: script-src 'self'); no inline script. */
(function () {
  "use strict";

  // Controls marked .js-only are hidden until we know scripts run.
  document.documentElement.classList.remove("no-js");

  // Department tree: the first click on a node's button loads its children through HTMX
  // (hx-trigger="click once"); every click toggles the children and aria-expanded.
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".tree-toggle");
    if (!button) {
      return;
    }
    var expanded = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", expanded ? "false" : "true");
    var children = document.getElementById(button.getAttribute("aria-controls"));
    if (children) {
      children.hidden = expanded;
    }
  });

  // A failed partial request says so instead of failing silently.
  document.addEventListener("htmx:responseError", function (event) {
    var target = event.detail.target;
    if (!target) {
      return;
    }
    var alert = document.createElement("p");
    alert.className = "alert alert-error";
    alert.setAttribute("role", "alert");
    alert.textContent = document.body.dataset.errorMessage || "Something went wrong.";
    target.prepend(alert);
  });
})();
