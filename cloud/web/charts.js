// The page's plots, drawn with Chart.js (served from static/vendor/chartjs, MIT licence).
"use strict";
const CLASS_COLOURS = {motorcycle: "#2e86de", car: "#e67e22", bus: "#27ae60", truck: "#8e44ad",
  bicycle: "#16a085", person: "#c0392b"};
const TYPE_COLOURS = {speeding: "#c0392b", wrong_way: "#8e44ad", red_light: "#e74c3c",
  congestion: "#e67e22", stopped_vehicle: "#d35400", illegal_stop: "#f39c12",
  pedestrian_on_carriageway: "#16a085", no_helmet: "#2980b9", camera_health: "#7f8c8d",
  camera_status: "#95a5a6"};
const charts = new Map();  // canvas id -> Chart

function plotChart(canvasId, config) {
  // One Chart per canvas, replaced on each redraw; no animation (steady screenshots).
  const old = charts.get(canvasId);
  if (old) old.destroy();
  config.options = Object.assign({animation: false, responsive: true, maintainAspectRatio: false,
    locale: I18N.locale()}, config.options || {});
  const chart = new Chart(document.getElementById(canvasId), config);
  charts.set(canvasId, chart);
  return chart;
}

function buckets(start, end, minutes) {
  const out = [];
  for (let ms = Date.parse(start); ms < Date.parse(end); ms += minutes * 60000) out.push(new Date(ms).toISOString());
  return out;
}

function bucketLabel(iso, minutes) {
  // A label per bucket; the date is added at local midnight so a 24-hour axis stays readable
  const time = clock(iso);
  return time.startsWith("00:00") || (minutes >= 60 && time.startsWith("00")) ? [time, day(iso)] : time;
}

function className(cls) { return I18N.has("class." + cls) ? t("class." + cls) : t("class.other", {name: cls}); }

function drawCounts(canvasId, plots) {
  // Stacked bars: one series per class and direction, per 15 minutes
  const keys = buckets(plots.start, plots.end, plots.interval_min);
  const index = new Map(keys.map((k, i) => [k, i]));
  const series = new Map();
  for (const r of plots.counts) {
    const key = r.object_class + "|" + r.direction;
    if (!series.has(key)) series.set(key, new Array(keys.length).fill(0));
    const i = index.get(new Date(r.interval_start).toISOString());
    if (i !== undefined) series.get(key)[i] += r.count || 0;
  }
  const datasets = [...series.entries()].sort().map(([key, data]) => {
    const [cls, direction] = key.split("|");
    const colour = CLASS_COLOURS[cls] || "#555";
    return {label: t("series.class_direction", {cls: className(cls), direction: t("direction." + direction)}),
      data: data, backgroundColor: direction === "out" ? colour + "88" : colour, stack: "all"};
  });
  return plotChart(canvasId, {type: "bar", data: {labels: keys.map((k) => bucketLabel(k, 15)), datasets: datasets},
    options: {scales: {x: {stacked: true, ticks: {maxRotation: 0, autoSkipPadding: 12}},
      y: {stacked: true, beginAtZero: true, title: {display: true, text: t("unit.per_15min")}}},
    plugins: {legend: {position: "bottom"}}}});
}

function drawSpeeds(canvasId, plots) {
  // Lines of the median and the 85th percentile per 15 minutes, km/h
  const keys = buckets(plots.start, plots.end, plots.interval_min);
  const byStart = new Map(plots.speeds.map((r) => [new Date(r.interval_start).toISOString(), r]));
  const p50 = keys.map((k) => (byStart.get(k) || {}).p50_kmh ?? null);
  const p85 = keys.map((k) => (byStart.get(k) || {}).p85_kmh ?? null);
  return plotChart(canvasId, {type: "line", data: {labels: keys.map((k) => bucketLabel(k, 15)), datasets: [
    {label: t("ui.speed_p50"), data: p50, borderColor: "#2e86de", backgroundColor: "#2e86de", spanGaps: false, pointRadius: 2},
    {label: t("ui.speed_p85"), data: p85, borderColor: "#c0392b", backgroundColor: "#c0392b", spanGaps: false, pointRadius: 2},
  ]}, options: {scales: {x: {ticks: {maxRotation: 0, autoSkipPadding: 12}},
    y: {beginAtZero: true, title: {display: true, text: t("unit.kmh", {v: ""}).trim()}}},
    plugins: {legend: {position: "bottom"}, tooltip: {callbacks: {label: (c) => c.dataset.label + ": " + unit.kmh(c.parsed.y)}}}}});
}

function drawCity(canvasId, plots) {
  // Stacked bars of incidents by type per hour, all cameras
  const keys = buckets(plots.start, plots.end, plots.interval_min);
  const index = new Map(keys.map((k, i) => [k, i]));
  const series = new Map();
  for (const r of plots.events) {
    if (!series.has(r.type)) series.set(r.type, new Array(keys.length).fill(0));
    const i = index.get(new Date(r.interval_start).toISOString());
    if (i !== undefined) series.get(r.type)[i] += r.count;
  }
  const datasets = [...series.entries()].sort().map(([type, data]) => ({
    label: t("event_type." + type), data: data, backgroundColor: TYPE_COLOURS[type] || "#555", stack: "all"}));
  return plotChart(canvasId, {type: "bar", data: {labels: keys.map((k) => bucketLabel(k, 60)), datasets: datasets},
    options: {scales: {x: {stacked: true, ticks: {maxRotation: 0, autoSkipPadding: 8}},
      y: {stacked: true, beginAtZero: true, ticks: {precision: 0}, title: {display: true, text: t("unit.events_per_hour")}}},
    plugins: {legend: {position: "bottom"}}}});
}
