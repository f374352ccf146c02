// Turns the filter rows into the query grammar (field, field__op) and skips empty values,
// so an untouched row never filters on the empty string.
(function () {
  "use strict";
  var form = document.getElementById("filters");
  var rows = document.getElementById("filter-rows");
  if (!form || !rows) return;

  function bindRemove(row) {
    row.querySelector(".remove").addEventListener("click", function () {
      if (rows.children.length > 1) row.remove();
      else row.querySelector(".f-value").value = "";
    });
  }
  Array.prototype.forEach.call(rows.children, bindRemove);

  document.getElementById("add-filter").addEventListener("click", function () {
    var row = rows.lastElementChild.cloneNode(true);
    row.querySelector(".f-value").value = "";
    rows.appendChild(row);
    bindRemove(row);
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var query = new URLSearchParams();
    Array.prototype.forEach.call(rows.children, function (row) {
      var value = row.querySelector(".f-value").value;
      if (value === "") return;
      var field = row.querySelector(".f-field").value;
      var op = row.querySelector(".f-op").value;
      query.append(op === "eq" ? field : field + "__" + op, value);
    });
    var order = document.getElementById("order-by").value.trim();
    if (order && order !== "id") query.set("order_by", order);
    query.set("pagination", document.getElementById("page-size").value);
    var count = document.getElementById("count-mode").value;
    if (count && count !== "estimated") query.set("count", count);
    window.location.assign(form.getAttribute("action") + "?" + query.toString());
  });

  document.getElementById("page-size").addEventListener("change", function () {
    form.requestSubmit();
  });
})();
