/* HealthNet portal: behaviour that only enhances. Every page works without this file; it is
   loaded as a file (never inline) so a Content-Security-Policy of 'self' allows it. Pages pass
   their settings in data- attributes, never in inline script. */
(function () {
  "use strict";

  // A polled region ([data-poll]) whose refresh failed says so instead of silently showing old
  // figures; the next successful poll swaps in fresh content without the mark.
  function markStale(event) {
    var element = event.detail && event.detail.elt;
    var region = element && element.closest ? element.closest("[data-poll]") : null;
    if (region) {
      region.setAttribute("data-stale", "");
    }
  }
  document.addEventListener("htmx:responseError", markStale);
  document.addEventListener("htmx:sendError", markStale);
})();
