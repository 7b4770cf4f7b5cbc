// qsim report: sortable and filterable tables. No network, no libraries, no data in code:
// everything is read from the escaped table cells.
(function () {
  "use strict";
  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) { return ""; }
    var key = cell.getAttribute("data-sort");
    return key === null ? cell.textContent.trim().toLowerCase() : key;
  }
  function compare(a, b) {
    var x = parseFloat(a), y = parseFloat(b);
    var numeric = !isNaN(x) && !isNaN(y) && isFinite(a) && isFinite(b);
    if (numeric) { return x - y; }
    return a < b ? -1 : a > b ? 1 : 0;
  }
  function sortBy(table, header, index) {
    var body = table.tBodies[0];
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var headers = table.querySelectorAll("th");
    for (var h = 0; h < headers.length; h++) { headers[h].removeAttribute("aria-sort"); }
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      var order = compare(cellValue(r1, index), cellValue(r2, index));
      return ascending ? order : -order;
    });
    for (var r = 0; r < rows.length; r++) { body.appendChild(rows[r]); }
  }
  function applyFilter(table, text) {
    var needle = text.trim().toLowerCase();
    var rows = table.tBodies[0].rows;
    var shown = 0;
    for (var r = 0; r < rows.length; r++) {
      var visible = needle === "" || rows[r].textContent.toLowerCase().indexOf(needle) !== -1;
      rows[r].hidden = !visible;
      if (visible) { shown++; }
    }
    var counter = document.getElementById(table.id + "-count");
    if (counter) { counter.textContent = shown + " of " + rows.length + " rows"; }
  }
  var tables = document.querySelectorAll("table.sortable");
  for (var t = 0; t < tables.length; t++) {
    (function (table) {
      var headers = table.tHead ? table.tHead.rows[0].cells : [];
      for (var i = 0; i < headers.length; i++) {
        (function (header, index) {
          header.tabIndex = 0;
          header.addEventListener("click", function () { sortBy(table, header, index); });
          header.addEventListener("keydown", function (event) {
            if (event.key === "Enter") { sortBy(table, header, index); }
          });
        })(headers[i], i);
      }
    })(tables[t]);
  }
  var filters = document.querySelectorAll("input[data-filter]");
  for (var f = 0; f < filters.length; f++) {
    (function (input) {
      var table = document.getElementById(input.getAttribute("data-filter"));
      if (!table) { return; }
      input.addEventListener("input", function () { applyFilter(table, input.value); });
    })(filters[f]);
  }
})();
