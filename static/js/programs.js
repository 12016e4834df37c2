// Programs pages: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // "Select all" checkbox in the review queue: data-select-all names the checkboxes it drives.
  document.querySelectorAll("[data-select-all]").forEach(function (master) {
    var name = master.getAttribute("data-select-all");
    var form = master.form || master.closest("form");
    var boxes = function () { return (form || document).querySelectorAll('input[type="checkbox"][name="' + name + '"]'); };
    master.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = master.checked; });
    });
  });
  // "Apply to all N, on every page": a decision for hundreds of people asks once more.
  document.querySelectorAll("[data-confirm-all]").forEach(function (box) {
    box.form.addEventListener("submit", function (event) {
      var decision = event.submitter && event.submitter.name === "decision";
      if (box.checked && decision && !window.confirm(box.getAttribute("data-confirm-all"))) {
        event.preventDefault();
      }
    });
  });
})();
