// Wheeldesk browser glue: quote ages that tick, a flash on live updates, the stock chart.
(function () {
  "use strict";

  function ageText(seconds) {
    if (seconds < 0) seconds = 0;
    if (seconds < 60) return Math.round(seconds) + "s ago";
    if (seconds < 3600) return Math.round(seconds / 60) + "m ago";
    if (seconds < 86400) return Math.round(seconds / 3600) + "h ago";
    return Math.round(seconds / 86400) + "d ago";
  }

  function refreshAges(root) {
    var now = Date.now();
    (root || document).querySelectorAll("[data-age-of]").forEach(function (el) {
      var ts = Date.parse(el.getAttribute("data-age-of"));
      if (isNaN(ts)) return;
      var seconds = (now - ts) / 1000;
      el.textContent = ageText(seconds);
      var stale = seconds > 900;
      el.classList.toggle("text-red-700", stale);
      el.title = "quote time " + new Date(ts).toLocaleString();
    });
  }

  // Phone cards: each cell of a .data-table carries its column's header as data-label, which the
  // stylesheet shows before the value below 640 px (the header row is hidden there).
  function labelCells(root) {
    (root || document).querySelectorAll("table.data-table").forEach(function (table) {
      var heads = table.querySelectorAll("thead tr:first-child > th");
      if (!heads.length) return;
      var names = Array.prototype.map.call(heads, function (th) {
        return (th.getAttribute("data-label") || th.textContent).replace(/[▲▼]/g, "").trim();
      });
      var cols = Array.prototype.map.call(heads, function (th) { return th.getAttribute("data-col"); });
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        var col = 0;
        Array.prototype.forEach.call(tr.children, function (cell) {
          if (!cell.hasAttribute("data-label") && !cell.hasAttribute("colspan") && col > 0) {
            cell.setAttribute("data-label", names[col] || "");
          }
          if (cols[col] && !cell.hasAttribute("data-col")) cell.setAttribute("data-col", cols[col]);
          col += parseInt(cell.getAttribute("colspan") || "1", 10);
        });
      });
    });
  }

  // The Menu button folds the nav on phones (a class, not inline script: the CSP allows none).
  function setupNavToggle() {
    var button = document.getElementById("nav-toggle");
    var nav = document.getElementById("main-nav");
    if (!button || !nav) return;
    nav.classList.add("nav-closed");
    button.addEventListener("click", function () {
      var open = nav.classList.toggle("nav-closed") === false;
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // Post/Redirect/Get for a form refused with its errors (a 400 page answering a POST): the
  // address bar shows the page's own URL, so a reload GETs it instead of posting again.
  function settlePostedUrl() {
    var meta = document.querySelector('meta[name="page-url"]');
    if (meta && window.history.replaceState) window.history.replaceState(null, "", meta.content);
  }

  document.addEventListener("DOMContentLoaded", function () {
    settlePostedUrl();
    setupNavToggle();
    try { labelCells(); } catch (err) { console.error("card labels:", err); }
    refreshAges();
    setInterval(refreshAges, 1000);
    drawCharts();
  });

  document.addEventListener("htmx:sseMessage", function (evt) {
    var el = evt.detail && evt.detail.elt;
    if (el) {
      refreshAges(el);
      el.classList.remove("flash");
      void el.offsetWidth;
      el.classList.add("flash");
    }
  });
  document.addEventListener("htmx:afterSwap", function (evt) { labelCells(evt.target.closest("table") ? evt.target.closest("table").parentNode : evt.target); refreshAges(evt.target); });

  // Loading state for plain (non-htmx) form posts: the button shows a spinner and cannot be
  // pressed twice while the server works (adding a ticker asks IBKR, which takes a moment).
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    // `data-confirm="question"` asks first (instead of an inline onsubmit: the CSP allows none).
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      evt.preventDefault();
      return;
    }
    if (evt.defaultPrevented || form.hasAttribute("hx-post") || form.method.toLowerCase() !== "post") return;
    var button = evt.submitter || form.querySelector("button[type=submit]");
    if (!button) return;
    button.classList.add("htmx-request");
    button.setAttribute("aria-busy", "true");
    setTimeout(function () { button.disabled = true; }, 0);
  });

  function drawCharts() {
    document.querySelectorAll("[data-price-chart]").forEach(function (el) {
      if (typeof uPlot === "undefined") return;
      var data = JSON.parse(document.getElementById(el.getAttribute("data-price-chart")).textContent);
      if (!data.dates.length) return;
      var xs = data.dates.map(function (d) { return Date.parse(d + "T16:00:00Z") / 1000; });
      var series = [{}, { label: "close", stroke: "#0f172a", width: 1.5 }];
      var cols = [xs, data.closes];
      data.marks.forEach(function (m) {
        cols.push(xs.map(function () { return m.strike; }));
        series.push({
          label: m.label,
          stroke: m.kind === "position" ? "#2563eb" : "#16a34a",
          dash: [6, 4],
          width: 1,
        });
      });
      var width = function () { return Math.max(280, el.clientWidth); };
      var plot = new uPlot({ width: width(), height: 280, series: series, scales: { x: { time: true } } }, cols, el);
      window.addEventListener("resize", function () { plot.setSize({ width: width(), height: 280 }); });
    });
  }
})();
