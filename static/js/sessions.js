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
})();
