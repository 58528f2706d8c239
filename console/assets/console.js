// agentledger console: charts, keyboard navigation and error messages.
// Everything else is htmx attributes in the pages.
(function () {
  "use strict";

  // Every element with data-chart (JSON: labels, series) becomes a uPlot
  // chart of a point a day; series marked `right` use the right-hand axis.
  function drawCharts(root) {
    if (typeof uPlot === "undefined") return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var data;
      try { data = JSON.parse(el.dataset.chart); } catch (e) { return; }
      if (!data.labels || data.labels.length === 0) return;
      el.dataset.drawn = "1";
      var xs = data.labels.map(function (d) { return Date.parse(d + "T12:00:00Z") / 1000; });
      var colors = ["#2456c7", "#c7243a", "#1a7f37", "#a15c00"];
      var series = [{ label: "Day" }];
      var columns = [xs];
      data.series.forEach(function (s, i) {
        series.push({ label: s.label, stroke: colors[i % colors.length], width: 2, scale: s.right ? "r" : "y",
                      points: { show: true } });
        columns.push(s.values);
      });
      // A tick a day, at the points; figures short (12k, 1.2M).
      var short = function (u, ticks) { return ticks.map(function (v) {
        var a = Math.abs(v);
        return a >= 1e6 ? (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M" : a >= 1e4 ? Math.round(v / 1e3) + "k" : String(v); }); };
      var axes = [{ splits: function () { return xs; },
                    values: function (u, ticks) { return ticks.map(function (t) {
                      return new Date(t * 1000).toISOString().slice(5, 10); }); } },
                  { scale: "y", values: short, size: 56 }];
      if (data.series.some(function (s) { return s.right; })) {
        axes.push({ scale: "r", side: 1, grid: { show: false }, values: short, size: 56 });
      }
      var width = Math.max(280, el.clientWidth || 600);
      // Points are days, not moments: read them in UTC, whatever the browser's zone.
      new uPlot({ width: width, height: 220, series: series, axes: axes, scales: { x: { time: true } },
                  tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); } },
                columns, el);
    });
  }

  function flash(text) {
    var el = document.getElementById("flash");
    if (!el) return;
    el.textContent = text;
    el.hidden = false;
    clearTimeout(flash.timer);
    flash.timer = setTimeout(function () { el.hidden = true; }, 8000);
  }

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSwap", function (e) { drawCharts(e.target); });
  document.addEventListener("htmx:sseMessage", function (e) { drawCharts(e.target); });

  // A refused write shows what the server said (the page's problem text).
  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail.xhr;
    var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    var title = doc.querySelector("h1");
    var detail = doc.querySelector(".detail");
    flash((title ? title.textContent : xhr.status + " " + xhr.statusText) +
          (detail ? ": " + detail.textContent : ""));
  });
  document.addEventListener("htmx:sendError", function () { flash("The server could not be reached."); });

  // Keys: 1-9 and 0 open the views, "/" the first filter field.
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(t.tagName))) return;
    if (/^[0-9]$/.test(e.key)) {
      var link = document.querySelector('nav a[data-key="' + e.key + '"]');
      if (link) { e.preventDefault(); link.click(); }
    } else if (e.key === "/") {
      var field = document.querySelector(".filters input, .filters select");
      if (field) { e.preventDefault(); field.focus(); }
    } else if (e.key === "?") {
      var keys = document.querySelector(".keys");
      if (keys) keys.scrollIntoView();
    }
  });
})();
