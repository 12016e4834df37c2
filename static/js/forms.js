// Every page: a form posts once. A second click (or Enter) while the first post is on its way
// would save the same thing twice; it is ignored. Forms stopped by another handler (a
// confirmation answered "Cancel") and htmx forms are left alone. Every page works without it.
(function () {
  "use strict";
  // On window, so it runs after the handlers on document (data-confirm) and sees their answer.
  window.addEventListener("submit", function (event) {
    var form = event.target;
    // data-no-guard: a form whose answer is a download (the page stays where it is).
    if (event.defaultPrevented || !form || (form.getAttribute("method") || "").toLowerCase() !== "post" || form.hasAttribute("data-no-guard")) {
      return;
    }
    if (form.getAttribute("data-submitting")) {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-submitting", "1");
    form.setAttribute("aria-busy", "true");
    // A request that never answers must not lock the form for good.
    window.setTimeout(function () { release(form); }, 10000);
  });
  function release(form) {
    form.removeAttribute("data-submitting");
    form.removeAttribute("aria-busy");
  }
  // Back to a page kept by the browser (back button): its forms can be sent again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitting]").forEach(release);
  });
})();

// Every page with htmx: a fragment request answered with a whole page (the sign-in page after
// the session ended, "this meeting was cancelled" after the partner cancelled it) is not put
// inside the form: the page is loaded again, so the person sees that page, as without htmx.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (event) {
    var text = event.detail.xhr && event.detail.xhr.responseText;
    if (text && /^\s*<!doctype html/i.test(text)) {
      event.detail.shouldSwap = false;
      window.location.reload();
    }
  });
})();
