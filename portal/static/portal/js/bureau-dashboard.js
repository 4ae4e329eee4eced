/* HealthNet bureau dashboard: draws each [data-chart] with ECharts (vendored; no CDN). The data
   comes from the element's data-chart attribute (JSON written by portal/pages/bureau.py): no
   inline script, so the page's Content-Security-Policy ('self') holds. The table under each chart
   holds the same figures and is what a reader without JavaScript sees; the chart container stays
   hidden until drawn.

   A bar that leads one level down (series.links[i]) is followed on click, like its table row's link.
   Tooltips are drawn on the canvas (renderMode "richText"): ECharts' HTML tooltips carry inline
   styles, which the CSP refuses. */
(function () {
  "use strict";

  var PALETTE = ["#0b6e4f", "#c2410c", "#1d4ed8", "#7c3aed", "#0e7490"];

  function option(spec) {
    var unit = spec.unit || "";
    var bars = spec.type === "bar";
    return {
      animation: false,
      color: PALETTE,
      textStyle: { fontFamily: "inherit" },
      grid: { left: 56, right: 24, top: 40, bottom: bars ? 72 : 40, containLabel: false },
      legend: { top: 0, data: spec.series.map(function (s) { return s.name; }) },
      tooltip: {
        trigger: "axis",
        renderMode: "richText",
        axisPointer: { type: bars ? "shadow" : "line" },
      },
      xAxis: {
        type: "category",
        data: spec.categories,
        axisLabel: bars ? { interval: 0, rotate: spec.categories.length > 6 ? 30 : 0 } : {},
      },
      yAxis: {
        type: "value",
        name: unit,
        min: 0,
        max: unit === "%" ? 100 : null,
        minInterval: spec.integer ? 1 : 0,
      },
      series: spec.series.map(function (s) {
        return {
          name: s.name,
          type: bars ? "bar" : "line",
          data: s.data,
          connectNulls: false,
          barMaxWidth: 48,
          showSymbol: true,
          cursor: bars && s.links ? "pointer" : "default",
        };
      }),
    };
  }

  function draw(element) {
    var spec;
    try {
      spec = JSON.parse(element.getAttribute("data-chart"));
    } catch (error) {
      return; // the table below still holds the figures
    }
    element.hidden = false;
    var chart = window.echarts.init(element, null, { renderer: "canvas" });
    chart.setOption(option(spec));
    if (spec.type === "bar") {
      chart.on("click", function (params) {
        var series = spec.series[params.seriesIndex];
        var url = series && series.links ? series.links[params.dataIndex] : null;
        if (url) {
          window.location.assign(url);
        }
      });
    }
    // The table under a drawn chart folds away (open without JavaScript).
    var section = element.closest(".bureau-chart");
    var table = section ? section.querySelector("details[data-chart-table]") : null;
    if (table) {
      table.open = false;
    }
    element.setAttribute("data-chart-drawn", String(spec.categories.length));
    window.addEventListener("resize", function () {
      chart.resize();
    });
  }

  function start() {
    if (!window.echarts) {
      return;
    }
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
