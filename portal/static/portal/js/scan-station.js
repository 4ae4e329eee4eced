/* 扫码台 (portal/pages/scan_station.py): keep the code field focused for a handheld scanner (it
   types the QR text and presses Enter, which submits the form), clear it and focus it again after
   each answer, and a camera mode that decodes QR codes in the browser with the vendored jsQR and
   submits the decoded text through the same form. Settings come in data- attributes; no inline
   script (CSP). Without this file the station is a plain form: type or scan, press Enter. */
(function () {
  "use strict";

  var SAME_CODE_PAUSE_MS = 3000; // the camera sees the same code many times a second
  var stream = null;
  var frameRequest = null;
  var lastText = "";
  var lastAt = 0;

  function form() { return document.getElementById("scan-form"); }
  function field() { return document.getElementById("scan-code"); }

  function focusField() {
    var input = field();
    if (input && document.activeElement !== input) { input.focus(); }
  }

  function isControl(element) {
    return !!(element && element.closest && element.closest("input, select, textarea, button, a, label, video, summary"));
  }

  function submitCode(text) {
    var input = field();
    var target = form();
    if (!input || !target) { return; }
    input.value = text;
    if (typeof target.requestSubmit === "function") { target.requestSubmit(); } else { target.submit(); }
  }

  // --- the camera ---------------------------------------------------------------------------

  function cameraStatus(text) {
    var status = document.getElementById("scan-camera-status");
    if (status) { status.textContent = text; }
  }

  function scanFrame() {
    var video = document.getElementById("scan-video");
    var canvas = document.getElementById("scan-canvas");
    if (!stream || !video || !canvas) { return; }
    if (video.readyState >= 2 && video.videoWidth > 0) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      var context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      var image = context.getImageData(0, 0, canvas.width, canvas.height);
      var found = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      var now = Date.now();
      if (found && found.data && (found.data !== lastText || now - lastAt > SAME_CODE_PAUSE_MS)) {
        lastText = found.data;
        lastAt = now;
        submitCode(found.data);
      }
    }
    frameRequest = window.requestAnimationFrame(scanFrame);
  }

  function stopCamera(toggle) {
    if (frameRequest) { window.cancelAnimationFrame(frameRequest); frameRequest = null; }
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); stream = null; }
    var box = document.getElementById("scan-camera");
    if (box) { box.hidden = true; }
    if (toggle) {
      toggle.textContent = toggle.getAttribute("data-label-start");
      toggle.setAttribute("aria-pressed", "false");
    }
    focusField();
  }

  function startCamera(toggle) {
    var video = document.getElementById("scan-video");
    var box = document.getElementById("scan-camera");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (media) {
        stream = media;
        video.srcObject = media;
        box.hidden = false;
        toggle.textContent = toggle.getAttribute("data-label-stop");
        toggle.setAttribute("aria-pressed", "true");
        cameraStatus("");
        return video.play();
      })
      .then(function () { frameRequest = window.requestAnimationFrame(scanFrame); })
      .catch(function () {
        stopCamera(toggle);
        box.hidden = false;
        cameraStatus(toggle.getAttribute("data-camera-error"));
      });
  }

  function setUpCamera() {
    var toggle = document.getElementById("scan-camera-toggle");
    if (!toggle || !window.jsQR || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return; // no camera mode: the scanner and the keyboard still work
    }
    toggle.hidden = false;
    toggle.setAttribute("aria-pressed", "false");
    toggle.addEventListener("click", function () {
      if (stream) { stopCamera(toggle); } else { startCamera(toggle); }
    });
    window.addEventListener("pagehide", function () { stopCamera(null); });
  }

  // --- always ready for the next scan --------------------------------------------------------

  function setUp() {
    var target = form();
    if (!target) { return; }
    focusField();
    // Clicking anywhere that is not a control puts the focus back where the scanner types.
    document.addEventListener("click", function (event) {
      if (!isControl(event.target)) { focusField(); }
    });
    // After choosing a purpose, the next keystrokes are the scanner's again.
    target.addEventListener("change", function (event) {
      if (event.target && event.target.name === "purpose") { focusField(); }
    });
    // htmx answered (result card and log swapped): clear the field for the next resident.
    document.body.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail && event.detail.elt === target) {
        var input = field();
        if (input) { input.value = ""; }
        focusField();
      }
    });
    setUpCamera();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
