// Pairing pages: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // Forms with data-confirm (publish, run again) ask before they post.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  // Person and pair choosers run to hundreds of options: type a few letters of a name or a
  // department to find someone (Tom Select, vendored). Plain selects without it.
  if (window.TomSelect) {
    document.querySelectorAll("select[data-searchable]").forEach(function (select) {
      new window.TomSelect(select, {
        maxOptions: 500,
        // Filter at once: Tom Select waits 300 ms by default, and an Enter typed within that
        // time took the option highlighted before the filter ran (the wrong person).
        refreshThrottle: 0,
        allowEmptyOption: false,
        searchField: ["text"],
        render: {
          no_results: function () {
            var div = document.createElement("div");
            div.className = "no-results";
            div.textContent = select.getAttribute("data-no-results") || "No one matches";
            return div;
          }
        }
      });
      // The label now names Tom Select's combobox; the native select it fills in stays in
      // the form, out of the tab order, and is hidden from assistive technology too.
      select.setAttribute("aria-hidden", "true");
    });
  }
  // Alternatives loaded by htmx: move focus to their heading so keyboard and screen-reader
  // users land on what they asked for.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "alternatives") {
      var title = document.getElementById("alternatives-title");
      if (title) { title.focus(); }
    }
  });
})();
