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

  // Idle logout (docs/security.md): the server ends a session untouched for
  // data-session-idle-seconds; two minutes before, a warning offers to continue (a keep-alive
  // request, which counts as activity), and at the limit the login page replaces the screen.
  // Background polls do not count as activity, on the server or here.
  var body = document.body;
  var idleSeconds = parseInt(body.getAttribute("data-session-idle-seconds") || "", 10);
  if (idleSeconds > 0) {
    var warning = document.getElementById("idle-warning");
    var keepAliveUrl = body.getAttribute("data-session-keepalive-url");
    var endedUrl = body.getAttribute("data-session-ended-url");
    var warnBefore = Math.min(120, Math.floor(idleSeconds / 2));
    var warnTimer = null;
    var endTimer = null;

    var restart = function () {
      window.clearTimeout(warnTimer);
      window.clearTimeout(endTimer);
      if (warning) {
        warning.hidden = true;
      }
      warnTimer = window.setTimeout(function () {
        if (warning) {
          warning.hidden = false;
          var button = document.getElementById("idle-warning-continue");
          if (button) {
            button.focus();
          }
        }
      }, (idleSeconds - warnBefore) * 1000);
      endTimer = window.setTimeout(function () {
        window.location.assign(endedUrl);
      }, idleSeconds * 1000);
    };

    var continueButton = document.getElementById("idle-warning-continue");
    if (continueButton) {
      continueButton.addEventListener("click", function () {
        fetch(keepAliveUrl, { credentials: "same-origin" }).then(function (response) {
          if (response.ok) {
            restart();
          } else {
            window.location.assign(endedUrl);
          }
        });
      });
    }
    // A person's own htmx request (not a background poll) is activity too.
    document.addEventListener("htmx:afterRequest", function (event) {
      var headers = (event.detail && event.detail.requestConfig && event.detail.requestConfig.headers) || {};
      if (headers["X-HealthNet-Poll"] !== "1") {
        restart();
      }
    });
    restart();
  }
})();
