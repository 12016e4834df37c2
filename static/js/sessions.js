// Pairs at work: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // "Copy" buttons: data-copy-target names the input whose value goes to the clipboard.
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = document.getElementById(button.getAttribute("data-copy-target"));
      if (!input) { return; }
      input.select();
      var done = function () {
        var label = button.getAttribute("data-copied-label");
        if (label) { button.textContent = label; }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () {});
      } else if (document.execCommand && document.execCommand("copy")) {
        done();
      }
    });
  });
  // The pair page folds older session logs and meetings into <details>: a link to one of them
  // (#log-12, after editing it or rating it) opens it, so the browser lands on its text.
  var openTarget = function () {
    var id = window.location.hash.slice(1);
    var target = id && document.getElementById(id);
    if (!target) { return; }
    var folded = target.closest("details");
    if (folded && !folded.open) {
      folded.open = true;
      target.scrollIntoView();
    }
  };
  openTarget();
  window.addEventListener("hashchange", openTarget);
})();
