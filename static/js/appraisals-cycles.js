/* The cycle settings page: "must total 100; you are at N" follows what is typed.
   Inputs carry data-total="<group>"; the sentence that shows the group's total carries
   data-total-of="<group>" and holds the number in [data-total-value]. Loaded as a file
   (CSP: script-src 'self'); without it the page shows the total as last saved or sent. */
(function () {
  "use strict";

  function update(group) {
    var total = 0;
    document.querySelectorAll('[data-total="' + group + '"]').forEach(function (input) {
      var value = parseInt(input.value, 10);
      if (!isNaN(value)) {
        total += value;
      }
    });
    document.querySelectorAll('[data-total-of="' + group + '"]').forEach(function (sentence) {
      sentence.classList.toggle("cycles-total-off", total !== 100);
      sentence.querySelectorAll("[data-total-value]").forEach(function (number) {
        number.textContent = String(total);
      });
    });
  }

  document.addEventListener("input", function (event) {
    var group = event.target.getAttribute && event.target.getAttribute("data-total");
    if (group) {
      update(group);
    }
  });
})();
