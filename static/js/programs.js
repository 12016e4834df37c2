// Programs pages: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // "Select all" checkbox in the review queue: data-select-all names the checkboxes it drives.
  // There are two, one in the table's header row and one shown on phones instead: they agree.
  document.querySelectorAll("[data-select-all]").forEach(function (master) {
    var name = master.getAttribute("data-select-all");
    var form = master.form || master.closest("form");
    var boxes = function () { return (form || document).querySelectorAll('input[type="checkbox"][name="' + name + '"], [data-select-all="' + name + '"]'); };
    master.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = master.checked; });
    });
  });
  // "Apply to all N, on every page": a decision for hundreds of people asks once more.
  var allBox = document.getElementById("all-matching");
  if (allBox && allBox.form) {
    allBox.form.addEventListener("submit", function (event) {
      var button = event.submitter;
      var question = button && button.name === "decision" && allBox.getAttribute("data-confirm-" + button.value);
      if (allBox.checked && question && !window.confirm(question)) {
        event.preventDefault();
      }
    });
  }
})();
