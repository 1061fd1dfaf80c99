/* The goal form: show only the KPI fields that apply to the chosen kind and direction.
   Without this script every field shows, with a note saying which apply; the server
   clears the ones that do not. Loaded as a file (CSP: no inline script). */
(function () {
  "use strict";

  function setUp(form) {
    var kind = form.querySelector("[name=kind]");
    var direction = form.querySelector("[name=direction]");

    function shows(element, attribute, value) {
      var wanted = element.getAttribute(attribute).split(" ");
      // A group holding an error stays visible, so the message can be read and fixed.
      return wanted.indexOf(value) !== -1 || element.querySelector(".has-error") !== null;
    }

    function update() {
      var kindValue = kind ? kind.value : "";
      // Until a direction is chosen, threshold/target/stretch are the likely ones.
      var directionValue = direction && direction.value ? direction.value : "higher";
      form.querySelectorAll("[data-show-kind]").forEach(function (element) {
        element.hidden = !shows(element, "data-show-kind", kindValue);
      });
      form.querySelectorAll("[data-show-direction]").forEach(function (element) {
        element.hidden = !shows(element, "data-show-direction", directionValue);
      });
    }

    if (kind) {
      kind.addEventListener("change", update);
    }
    if (direction) {
      direction.addEventListener("change", update);
    }
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-goal-form]").forEach(setUp);
  });
})();
