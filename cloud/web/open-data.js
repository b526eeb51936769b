// The citizens' open-data page: the published tables (k-anonymous), charts, downloads, DCAT.
"use strict";
const TABLE_ROWS = 40;
const COLUMNS = {
  sites: ["site_id", "camera_id", "name", "lat", "lon"],
  counts: ["interval_start", "camera_id", "object_class", "direction", "count"],
  speeds: ["interval_start", "camera_id", "speed_samples", "mean_speed_kmh", "p50_speed_kmh", "p85_speed_kmh", "congestion_level"],
  events: ["interval_start", "camera_id", "event_type", "count"],
};
const NUMERIC = new Set(["lat", "lon", "count", "speed_samples", "mean_speed_kmh", "p50_speed_kmh", "p85_speed_kmh"]);
let data = null;
let query = "";
const $ = (id) => document.getElementById(id);

async function load() {
  const get = async (name) => (await fetch("/open-data/latest/" + name + query)).json();
  const [metadata, sites, counts, speeds, events] = await Promise.all(
    ["metadata.json", "sites.json", "counts.json", "speeds.json", "events.json"].map(get));
  data = {metadata, sites, counts, speeds, events};
  I18N.tz = metadata.time_zone || I18N.tz;
  render();
}

function siteName(site) {
  return (I18N.lang === "vi" ? site.name_vi || site.name_en : site.name_en || site.name_vi) || site.camera_id;
}

function cell(column, row) {
  const v = column === "name" ? siteName(row) : row[column];
  if (v === null || v === undefined || v === "") return column === "count" || column === "speed_samples" ? null : "";
  if (column === "interval_start") return dateTime(v);
  if (column === "object_class") return className(v);
  if (column === "direction") return t("direction." + v);
  if (column === "event_type") return t("event_type." + v);
  if (column === "congestion_level") return t("level." + v);
  if (column === "lat" || column === "lon") return num(v, 6);
  if (column === "camera_id") {
    const site = data.sites.find((s) => s.camera_id === v);
    return site ? siteName(site) : v;
  }
  return NUMERIC.has(column) ? num(v, 1) : v;
}

const STATISTICS = new Set(["count", "line_crossing", "zone_occupancy"]);  // in the counts already

function renderTable(name) {
  const rows = name === "events" ? data.events.filter((r) => !STATISTICS.has(r.event_type)) : data[name];
  const table = $(name);
  table.replaceChildren();
  const head = el("tr");
  for (const c of COLUMNS[name]) head.append(el("th", {scope: "col"}, t("od.col." + (c === "name" ? "name" : c))));
  table.append(head);
  const newest = name === "sites" ? rows : [...rows].reverse();  // the latest intervals first
  for (const row of newest.slice(0, TABLE_ROWS)) {
    const tr = el("tr");
    for (const c of COLUMNS[name]) {
      const v = cell(c, row);
      tr.append(v === null ? el("td", {class: "num suppressed", title: t("od.suppressed")}, "–")
        : el("td", NUMERIC.has(c) ? {class: "num"} : {}, v));
    }
    table.append(tr);
  }
  const note = $(name + "-note");
  if (note) note.textContent = rows.length > TABLE_ROWS ? t("od.table_rows", {shown: TABLE_ROWS, total: rows.length}) : "";
}

function renderDownloads() {
  const list = $("downloads");
  list.replaceChildren();
  for (const name of ["counts", "speeds", "events", "sites"]) {
    for (const ext of ["csv", "json"]) {
      const li = el("li");
      li.append(el("a", {href: "/open-data/latest/" + name + "." + ext + query, "data-download": name + "." + ext}, t("od." + name) + " (" + ext.toUpperCase() + ")"));
      list.append(li);
    }
  }
  const li = el("li");
  li.append(el("a", {href: "/open-data/latest/metadata.json" + query, "data-download": "metadata.json"}, t("od.metadata")));
  list.append(li);
}

function literal(value) {
  // A JSON-LD text in the page's language (language-tagged values), else as it is
  if (!Array.isArray(value)) return String(value);
  const mine = value.find((v) => v["@language"] === I18N.lang) || value[0];
  return mine["@value"];
}

function renderMetadata() {
  // The DCAT description in words; the JSON-LD itself is the metadata.json download
  const m = data.metadata, box = $("dcat");
  const rows = [["title", literal(m["dct:title"])], ["description", literal(m["dct:description"])], ["license", m["dct:license"]],
    ["temporal", dateTime(m["dct:temporal"]["dcat:startDate"]) + " → " + dateTime(m["dct:temporal"]["dcat:endDate"])],
    ["spatial", t("od.dcat.cameras", {n: m["dct:spatial"].length})], ["frequency", m["dct:accrualPeriodicity"].endsWith("/daily") ? t("od.freq.daily") : m["dct:accrualPeriodicity"]],
    ["issued", dateTime(m["dct:issued"])], ["k", String(m.suppression_k)]];
  box.replaceChildren();
  for (const [key, value] of rows) box.append(el("dt", {}, t("od.dcat." + key)), el("dd", {}, value));
}

function renderCharts() {
  const m = data.metadata, start = m["dct:temporal"]["dcat:startDate"], end = m["dct:temporal"]["dcat:endDate"];
  const total = {start: start, end: end, interval_min: 15, counts: data.counts.filter((r) => r.count !== null)};
  drawCounts("od-counts", total);
  const keys = buckets(start, end, 15), index = new Map(keys.map((k, i) => [k, i]));
  const perCamera = new Map();
  for (const r of data.speeds) {
    if (r.p85_speed_kmh === null) continue;
    if (!perCamera.has(r.camera_id)) perCamera.set(r.camera_id, new Array(keys.length).fill(null));
    const i = index.get(new Date(r.interval_start).toISOString());
    if (i !== undefined) perCamera.get(r.camera_id)[i] = r.p85_speed_kmh;
  }
  const colours = ["#c0392b", "#2e86de", "#27ae60", "#8e44ad", "#e67e22"];
  const datasets = [...perCamera.entries()].map(([cam, values], i) => ({label: cell("camera_id", {camera_id: cam}),
    data: values, borderColor: colours[i % colours.length], backgroundColor: colours[i % colours.length], pointRadius: 2}));
  plotChart("od-speeds", {type: "line", data: {labels: keys.map((k) => bucketLabel(k, 15)), datasets: datasets},
    options: {scales: {y: {beginAtZero: true, title: {display: true, text: t("unit.kmh", {v: ""}).trim()}}, x: {ticks: {maxRotation: 0, autoSkipPadding: 12}}},
      plugins: {legend: {position: "bottom"}}}});
}

function render() {
  translateStatic();
  document.title = t("od.title");
  if (!data) return;
  const m = data.metadata;
  $("intro").textContent = t("od.intro", {k: m.suppression_k});
  $("period").textContent = t("od.period", {start: dateTime(m["dct:temporal"]["dcat:startDate"]),
    end: dateTime(m["dct:temporal"]["dcat:endDate"]), interval: 15});
  $("licence").textContent = t("od.licence", {licence: m["dct:license"]});
  $("empty").hidden = data.counts.length + data.speeds.length + data.events.length > 0;
  renderDownloads();
  renderMetadata();
  renderCharts();
  for (const name of Object.keys(COLUMNS)) renderTable(name);
}

document.addEventListener("DOMContentLoaded", async () => {
  await I18N.load(I18N.lang);
  $("lang").value = I18N.lang;
  $("lang").addEventListener("change", async () => { await I18N.load($("lang").value); render(); });
  $("period-form").addEventListener("submit", (ev) => { ev.preventDefault(); query = $("day").value ? "?day=" + $("day").value : ""; load(); });
  $("last24").addEventListener("click", () => { $("day").value = ""; query = ""; load(); });
  render();
  await load();
});
