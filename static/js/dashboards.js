// Dashboards: draws every <canvas data-chart-source="ID"> from the JSON in <script id="ID">.
// Data arrive through json_script because the CSP forbids inline scripts; every chart has a
// table next to it, so the page still says everything without this file.
(function () {
  "use strict";
  if (typeof window.Chart === "undefined") { return; }
  var PALETTE = ["#0b5ed7", "#198754", "#b35c00", "#6f42c1", "#d63384"];
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart-source"));
    if (!source) { return; }
    var spec = JSON.parse(source.textContent);
    var line = spec.type === "line";
    var datasets = spec.datasets.map(function (set, i) {
      var colour = PALETTE[i % PALETTE.length];
      return {
        label: set.label,
        data: set.data,
        borderColor: colour,
        backgroundColor: line ? colour : colour + "cc",
        borderWidth: line ? 2 : 0,
        pointRadius: line && spec.labels.length > 40 ? 0 : 3,
        spanGaps: true,
        tension: 0.2
      };
    });
    // Headroom above the highest point, so that a line at its top (a 100% match rate) is not
    // drawn on the chart's edge: percentages run to 105 with ticks up to 100 only.
    var valueAxis = { beginAtZero: true, grace: "10%", ticks: { precision: 0 } };
    if (spec.percent) {
      valueAxis = { beginAtZero: true, min: 0, max: 105, ticks: { stepSize: 20, includeBounds: false } };
    }
    // A trend's dates lie flat (never rotated), as many as fit, short where the spec gives
    // them (without the year, which the heading carries); the tooltip keeps the full label.
    // A bar chart names every bar: labels break between words before they tilt.
    var tickLabels = spec.tick_labels || spec.labels;
    var categoryAxis = line ? {
      ticks: {
        maxRotation: 0,
        autoSkip: true,
        autoSkipPadding: 12,
        callback: function (value) { return tickLabels[value]; }
      }
    } : {
      ticks: {
        autoSkip: false,
        callback: function (value) { var text = String(spec.labels[value]); return text.length > 10 ? text.split(" ") : text; }
      }
    };
    new window.Chart(canvas, {
      type: line ? "line" : "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: reduceMotion ? false : { duration: 300 },
        indexAxis: spec.horizontal ? "y" : "x",
        plugins: { legend: { display: datasets.length > 1, position: "bottom", labels: { boxWidth: 12, padding: 8 } } },
        scales: spec.horizontal ? { x: valueAxis } : { y: valueAxis, x: categoryAxis }
      }
    });
  }

  document.querySelectorAll("canvas[data-chart-source]").forEach(draw);

})();
