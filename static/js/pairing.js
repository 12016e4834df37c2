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
  // Alternatives loaded by htmx: move focus to their heading so keyboard and screen-reader
  // users land on what they asked for.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "alternatives") {
      var title = document.getElementById("alternatives-title");
      if (title) { title.focus(); }
    }
  });
})();
