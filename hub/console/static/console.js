// Draws the overview's charts (Chart.js, vendored) from the JSON the snapshot carries, and
// redraws them in place whenever the server-sent snapshot is swapped in. When the stream says the
// session ended ("expired", carrying the sign-in address), the whole page goes to sign in.
(function () {
  var charts = {};
  var PALETTE = ["#1a56db", "#067647", "#b54708", "#7a5af8", "#0e9384", "#b42318", "#667085", "#dd2590", "#98a2b3"];
  function data() {
    var node = document.getElementById("overview-chart-data");
    return node ? JSON.parse(node.textContent) : null;
  }
  function draw() {
    var d = data();
    if (!d || typeof Chart === "undefined") return;
    var perHour = document.getElementById("chart-per-hour");
    var statuses = document.getElementById("chart-statuses");
    if (perHour) {
      if (!charts.perHour) {
        charts.perHour = new Chart(perHour, {type: "bar", data: {labels: d.hours, datasets: [{label: d.perHourLabel, data: d.perHour, backgroundColor: "#1a56db"}]},
          options: {animation: false, maintainAspectRatio: false, plugins: {legend: {display: false}}, scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}});
      } else { charts.perHour.data.datasets[0].data = d.perHour; charts.perHour.update("none"); }
    }
    if (statuses) {
      if (!charts.statuses) {
        charts.statuses = new Chart(statuses, {type: "doughnut", data: {labels: d.statusLabels, datasets: [{data: d.statusCounts, backgroundColor: PALETTE}]},
          options: {animation: false, maintainAspectRatio: false, plugins: {legend: {position: "right"}}}});
      } else { charts.statuses.data.labels = d.statusLabels; charts.statuses.data.datasets[0].data = d.statusCounts; charts.statuses.update("none"); }
    }
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
document.addEventListener("htmx:sseBeforeMessage", function (event) {
  var message = event.detail;
  if (message && message.type === "expired") {
    event.preventDefault();
    if (typeof message.data === "string" && message.data.indexOf("/console/login") === 0) {
      window.location.assign(message.data);
    }
  }
});
