// Mine monitor reports: charts from the page's data, tables that sort (mouse or keyboard),
// filter and page, and the before/after slider. Offline: nothing is fetched.
(function () {
  "use strict";
  var css = getComputedStyle(document.documentElement);
  function colour(status) { return css.getPropertyValue("--" + status).trim() || "#666"; }
  var PLOT = { displayModeBar: false, responsive: true };
  function layout(title, extra) {
    var l = { title: { text: title, font: { size: 14 } }, margin: { l: 48, r: 12, t: 36, b: 36 },
              autosize: true, font: { family: "system-ui, sans-serif", size: 12 },
              xaxis: { dtick: 1, gridcolor: "#eee" }, yaxis: { gridcolor: "#eee", rangemode: "tozero" },
              legend: { orientation: "h", y: -0.2 }, plot_bgcolor: "#fff", paper_bgcolor: "#fff" };
    for (var k in extra) l[k] = extra[k];
    return l;
  }
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function drawCharts() {
    if (!window.Plotly) return;
    var idx = data("index-data");
    if (idx && document.getElementById("area-per-year")) {
      Plotly.newPlot("area-per-year", [{ type: "bar", x: idx.years, y: idx.total_area,
        marker: { color: colour("expansion") }, name: "disturbed area" }],
        layout("Total disturbed area per year (ha)"), PLOT);
    }
    var site = data("site-data");
    if (site) {
      var shapes = site.gaps.map(function (y) {
        return { type: "rect", xref: "x", yref: "paper", x0: y - 0.5, x1: y + 0.5, y0: 0, y1: 1,
                 fillcolor: "#bbb", opacity: 0.35, line: { width: 0 } }; });
      var notes = [];
      site.events.forEach(function (e) {
        shapes.push({ type: "rect", xref: "x", yref: "paper", x0: e.from - 0.45, x1: e.to + 0.45,
                      y0: 0, y1: 1, fillcolor: colour(e.flag), opacity: 0.13, line: { width: 0 } });
        notes.push({ x: e.from - 0.4, y: 1, xref: "x", yref: "paper", text: e.flag.replace("_", " "),
                     showarrow: false, xanchor: "left", yanchor: "top", font: { size: 10 } });
      });
      Plotly.newPlot("area-chart", [{ x: site.years, y: site.area, mode: "lines+markers",
        line: { color: colour("expansion") }, name: "mined area", connectgaps: false }],
        layout("Mined area (ha); grey: no clear data", { shapes: shapes, annotations: notes }), PLOT);
      Plotly.newPlot("ndvi-chart", [
        { x: site.years, y: site.ndvi, mode: "lines+markers", name: "footprint",
          line: { color: colour("likely_abandonment") }, connectgaps: false },
        { x: site.years, y: site.ndvi_surroundings, mode: "lines+markers", name: "surroundings",
          line: { color: colour("active"), dash: "dot" }, connectgaps: false }],
        layout("NDVI: footprint vs surroundings", { yaxis: { gridcolor: "#eee" } }), PLOT);
    }
  }

  // -- tables: sort (click, Enter or Space on a header), filter, pages of 50 ---------------
  function cellValue(td) {
    var v = td.getAttribute("data-sort");
    if (v === null) v = td.textContent.trim();
    var n = parseFloat(v);
    return isNaN(n) || /[a-z]/i.test(v.replace(/e[-+]?\d+$/i, "")) ? v.toLowerCase() : n;
  }
  function paged(table) {
    var size = parseInt(table.getAttribute("data-page-size") || "0", 10);
    var pager = document.querySelector("[data-pager='" + table.id + "']");
    var page = 0;
    function show() {
      var rows = Array.prototype.filter.call(table.tBodies[0].rows, function (r) { return !r.hidden; });
      var pages = size ? Math.max(1, Math.ceil(rows.length / size)) : 1;
      page = Math.min(page, pages - 1);
      rows.forEach(function (r, i) { r.style.display = !size || Math.floor(i / size) === page ? "" : "none"; });
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) { if (r.hidden) r.style.display = "none"; });
      if (pager) {
        pager.querySelector(".page").textContent = "page " + (page + 1) + " of " + pages + " (" + rows.length + " rows)";
        pager.querySelector(".prev").disabled = page === 0;
        pager.querySelector(".next").disabled = page >= pages - 1;
      }
    }
    if (pager) {
      pager.querySelector(".prev").addEventListener("click", function () { page -= 1; show(); });
      pager.querySelector(".next").addEventListener("click", function () { page += 1; show(); });
    }
    table.refresh = show;
    show();
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.querySelectorAll("th");
    heads.forEach(function (th, col) {
      th.tabIndex = 0;
      function sort() {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a.cells[col]), y = cellValue(b.cells[col]);
          if (x === y) return 0;
          if (x === "" || x === "-") return 1;
          if (y === "" || y === "-") return -1;
          return (x < y ? -1 : 1) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
        if (table.refresh) table.refresh();
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
      });
    });
    paged(table);
  });
  document.querySelectorAll("input[data-filter]").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-filter"));
    input.addEventListener("input", function () {
      var q = input.value.toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        r.hidden = r.textContent.toLowerCase().indexOf(q) < 0;
      });
      if (table.refresh) table.refresh();
    });
  });
  // -- before/after -------------------------------------------------------------------------
  document.querySelectorAll("input.compare-slider").forEach(function (input) {
    var box = document.getElementById(input.getAttribute("data-for"));
    function cut() { box.style.setProperty("--cut", input.value + "%"); }
    input.addEventListener("input", cut);
    cut();
  });
  // -- the online basemap, only when asked for ----------------------------------------------
  var toggle = document.getElementById("basemap-toggle");
  if (toggle) toggle.addEventListener("click", function () {
    var idx = data("index-data");
    document.getElementById("site-map-online").hidden = false;
    Plotly.newPlot("site-map-online", idx.basemap, { map: { style: "open-street-map", zoom: 10,
      center: idx.center }, margin: { l: 0, r: 0, t: 0, b: 0 }, height: 420 }, PLOT);
  });
  drawCharts();
})();
