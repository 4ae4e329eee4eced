/* The resident's code page (issue 11): count down to the next code, show "expired" once the code
   on screen has lived its life (offline, a failed refresh), retry a failed refresh, and keep the
   screen awake where the browser allows (Wake Lock API). The region itself polls with htmx
   (hx-trigger="load delay:<refresh>s"): a new code replaces it exactly when due.

   Times are counted from when each region arrived (performance.now), never from the phone's
   clock, which may be wrong. Settings come in data- attributes; no inline script (CSP). */
(function () {
  "use strict";

  var RETRY_SECONDS = 5;
  var ticking = null;
  var retrying = null;
  var wakeLock = null;

  function liveRegion() {
    return document.querySelector("[data-live-code]");
  }

  function seconds(element, name) {
    var value = parseInt(element.getAttribute(name), 10);
    return isNaN(value) ? 0 : value;
  }

  function follow(region) {
    var arrived = performance.now();
    var expiresIn = seconds(region, "data-expires-in");
    var refreshIn = seconds(region, "data-refresh-in");
    var counter = region.querySelector("[data-countdown]");
    region.setAttribute("data-arrived", String(arrived));

    function tick() {
      if (liveRegion() !== region) {
        return; // replaced by a fresher code: its own timer runs
      }
      var elapsed = (performance.now() - arrived) / 1000;
      if (counter) {
        counter.textContent = String(Math.max(0, Math.ceil(refreshIn - elapsed)));
      }
      if (elapsed >= expiresIn) {
        region.setAttribute("data-expired", "");
      }
    }
    window.clearInterval(ticking);
    ticking = window.setInterval(tick, 1000);
    tick();
  }

  function refreshNow() {
    var region = liveRegion();
    if (region && window.htmx) {
      window.htmx.trigger(region, "hn:retry");
    }
  }

  function retryLater(event) {
    var region = liveRegion();
    var source = event.detail && event.detail.elt;
    if (!region || !source || !region.contains(source)) {
      return;
    }
    window.clearTimeout(retrying);
    retrying = window.setTimeout(refreshNow, RETRY_SECONDS * 1000);
  }

  function overdue() {
    var region = liveRegion();
    if (!region) {
      return false;
    }
    var arrived = parseFloat(region.getAttribute("data-arrived") || "0");
    return (performance.now() - arrived) / 1000 >= seconds(region, "data-refresh-in");
  }

  function keepAwake() {
    if (!liveRegion() || !("wakeLock" in navigator) || document.visibilityState !== "visible") {
      return;
    }
    if (wakeLock && !wakeLock.released) {
      return;
    }
    navigator.wakeLock.request("screen").then(
      function (lock) {
        wakeLock = lock;
      },
      function () {
        wakeLock = null; // not allowed here (battery saver, an old browser): the page still works
      }
    );
  }

  document.addEventListener("htmx:load", function (event) {
    var element = event.detail && event.detail.elt;
    if (!element) {
      return;
    }
    var region = element.matches && element.matches("[data-live-code]")
      ? element
      : element.querySelector && element.querySelector("[data-live-code]");
    if (region) {
      follow(region);
    }
  });
  document.addEventListener("htmx:sendError", retryLater);
  document.addEventListener("htmx:responseError", retryLater);
  window.addEventListener("online", refreshNow);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      keepAwake();
      if (overdue()) {
        refreshNow(); // timers sleep with the screen: catch up at once
      }
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var region = liveRegion();
    if (region && !region.hasAttribute("data-arrived")) {
      follow(region);
    }
    keepAwake();
  });
})();
