// Operations-centre page: login, live alert cards (SSE), workflow buttons, audit, camera grid.
// Every event- or user-provided string is inserted with textContent, never as HTML.
"use strict";
const TZ = "Asia/Ho_Chi_Minh";
const T = {
  vi: {title: "Trung tâm điều hành giao thông", username: "Tên đăng nhập", password: "Mật khẩu",
    login: "Đăng nhập", logout: "Đăng xuất", alerts: "Cảnh báo", cameras: "Camera",
    audit: "Nhật ký", acknowledge: "Xác nhận", resolve: "Đã xử lý", dismiss: "Báo nhầm",
    evidence: "Xem ảnh", live: "Trực tiếp", offline: "Mất kết nối", events: "sự kiện",
    new: "mới", acknowledged: "đã xác nhận", resolved: "đã xử lý", dismissed: "báo nhầm",
    badlogin: "Sai tên đăng nhập hoặc mật khẩu", history: "Lịch sử",
    vehicles: "Lượt xe mỗi 15 phút (6 giờ qua)", speed: "Tốc độ trung bình / P85 (km/h)",
    online: "trực tuyến", offline_node: "ngoại tuyến", degraded: "suy giảm"},
  en: {title: "Traffic operations centre", username: "User name", password: "Password",
    login: "Log in", logout: "Log out", alerts: "Alerts", cameras: "Cameras",
    audit: "Audit log", acknowledge: "Acknowledge", resolve: "Resolve", dismiss: "False positive",
    evidence: "View image", live: "Live", offline: "Disconnected", events: "events",
    new: "new", acknowledged: "acknowledged", resolved: "resolved", dismissed: "dismissed",
    badlogin: "Wrong user name or password", history: "History",
    vehicles: "Vehicles per 15 minutes (last 6 hours)", speed: "Mean / P85 speed (km/h)",
    online: "online", offline_node: "offline", degraded: "degraded"},
};
let lang = localStorage.getItem("lang") || "vi";
let me = null;
let source = null;
const cards = new Map();
const images = new Map();  // alert id -> object URL of the evidence image shown
const $ = (id) => document.getElementById(id);
const t = (key) => (T[lang] && T[lang][key]) || key;

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function fmt(iso) {
  return new Date(iso).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB", {timeZone: TZ});
}

function applyLang() {
  document.documentElement.lang = lang;
  $("lang").value = lang;
  document.querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
  for (const a of cards.values()) renderCard(a);
  $("live-text").textContent = source && source.readyState === 1 ? t("live") : t("offline");
}

async function api(path, options) {
  const res = await fetch(path, Object.assign({credentials: "same-origin"}, options || {}));
  if (!res.ok) throw new Error(res.status + " " + path);
  return res.status === 204 ? null : res.json();
}

async function login(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    await api("/api/auth/login", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({username: $("username").value, password: $("password").value})});
    await start();
  } catch (e) {
    $("login-error").textContent = t("badlogin");
  }
}

async function start() {
  me = await api("/api/auth/me");
  $("who").textContent = me.name + " (" + me.role + ")";
  $("login").hidden = true;
  $("board").hidden = false;
  $("logout").hidden = false;
  for (const a of (await api("/api/alerts")).reverse()) upsert(a, false);
  await drawMap();
  await drawNodes();
  setInterval(drawNodes, 10000);
  connect();
}

function connect() {
  let after = 0;
  for (const a of cards.values()) after = Math.max(after, a.updated_seq);
  source = new EventSource("/api/live?after=" + after);
  source.onopen = () => { $("live-dot").className = "on"; $("live-text").textContent = t("live"); };
  source.onerror = () => { $("live-dot").className = ""; $("live-text").textContent = t("offline"); };
  source.addEventListener("alert", (msg) => {
    const alert = JSON.parse(msg.data);
    upsert(alert, !cards.has(alert.id));
    drawMap();
  });
}

function upsert(alert, fresh) {
  cards.set(alert.id, alert);
  const card = renderCard(alert);
  if (fresh) {
    card.classList.add("flash");
    if (["high", "critical"].includes(alert.severity)) beep();
  }
}

function beep() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.2);
  } catch (e) { /* no audio: the visual cue remains */ }
}

function renderCard(a) {
  let card = document.querySelector('[data-alert="' + a.id + '"]');
  if (!card) {
    card = el("article", {"data-alert": String(a.id)});
    $("alerts").prepend(card);
  }
  card.className = "card sev-" + a.severity + " state-" + a.state + (card.classList.contains("flash") ? " flash" : "");
  card.replaceChildren();
  card.append(el("div", {class: "state"}, t(a.state) + " · " + a.severity));
  card.append(el("div", {class: "camera"}, a.camera_id + " @ " + a.site_id));
  card.append(el("div", {class: "rule"}, a.type + (a.rule ? " / " + a.rule : "")));
  card.append(el("div", {class: "time"}, fmt(a.last_time) + " · " + a.event_count + " " + t("events")));
  if (a.acknowledged_by) card.append(el("div", {class: "by"}, "✔ " + a.acknowledged_by));
  const actions = {new: ["acknowledge", "resolve", "dismiss"], acknowledged: ["resolve", "dismiss"]};
  if (me && me.role !== "viewer") {
    for (const action of actions[a.state] || []) {
      const b = el("button", {"data-action": action}, t(action));
      b.onclick = () => act(a.id, action);
      card.append(b);
    }
    const ev = el("button", {"data-action": "evidence"}, t("evidence"));
    ev.onclick = () => showEvidence(a);
    card.append(ev);
  }
  if (images.has(a.id)) card.append(el("img", {alt: "evidence", src: images.get(a.id)}));
  const h = el("button", {"data-action": "history"}, t("history"));
  h.onclick = () => showAudit(a.id);
  card.append(h);
  return card;
}

async function act(id, action) {
  upsert(await api("/api/alerts/" + id + "/" + action, {method: "POST",
    headers: {"Content-Type": "application/json"}, body: "{}"}), false);
  await showAudit(id);
}

async function showAudit(id) {
  const list = $("audit");
  list.replaceChildren();
  for (const line of await api("/api/alerts/" + id + "/audit")) {
    list.append(el("li", {}, fmt(line.time) + " " + line.actor + " " + line.action + " " + line.detail));
  }
}

async function showEvidence(a) {
  const url = "/api/events/" + a.latest_event_id + "/evidence/snapshot";
  const res = await fetch(url, {credentials: "same-origin"});
  if (!res.ok) return;
  images.set(a.id, URL.createObjectURL(await res.blob()));
  renderCard(cards.get(a.id));
}

async function drawMap() {
  // No tiles offline: cameras are placed on a coordinate grid in the order they were seen.
  const map = $("map");
  const cams = await api("/api/cameras");
  map.replaceChildren();
  const alerting = new Set([...cards.values()].filter((a) => a.state === "new").map((a) => a.camera_id));
  cams.forEach((c, i) => {
    const dot = el("button", {class: "cam" + (alerting.has(c.camera_id) ? " alerting" : ""),
      "data-camera": c.camera_id}, c.camera_id);
    dot.onclick = () => showCamera(c.camera_id);
    dot.style.left = (20 + (i % 6) * 160) + "px";
    dot.style.top = (20 + Math.floor(i / 6) * 40) + "px";
    map.append(dot);
  });
}

async function drawNodes() {
  const list = $("nodes");
  list.replaceChildren();
  for (const n of await api("/api/nodes")) {
    const state = n.state === "offline" ? "offline_node" : n.state;
    list.append(el("li", {class: n.state}, "● " + n.site_id + "/" + n.node_id + " " + t(state)));
  }
}

async function showCamera(cameraId) {
  const end = new Date();
  const start = new Date(end.getTime() - 6 * 3600 * 1000);
  const q = new URLSearchParams({start: start.toISOString(), end: end.toISOString(),
    interval_min: "15", camera_id: cameraId});
  const stats = await api("/api/stats?" + q.toString());
  $("camera-panel").hidden = false;
  $("camera-title").textContent = cameraId + " — " + t("vehicles");
  const totals = new Map();
  for (const r of stats.counts) totals.set(r.interval_start, (totals.get(r.interval_start) || 0) + (r.count || 0));
  drawBars($("chart"), [...totals.entries()].sort());
  const speeds = stats.speeds.filter((r) => r.mean_speed_kmh !== null);
  const last = speeds[speeds.length - 1];
  $("camera-speed").textContent = t("speed") + ": " + (last ? last.mean_speed_kmh + " / " + last.p85_speed_kmh : "–");
}

function drawBars(svg, points) {
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const max = Math.max(1, ...points.map((p) => p[1]));
  const width = 720 / Math.max(points.length, 1);
  points.forEach(([time, value], i) => {
    const h = Math.round((value / max) * 110);
    const bar = document.createElementNS(ns, "rect");
    bar.setAttribute("x", String(i * width + 2));
    bar.setAttribute("y", String(120 - h));
    bar.setAttribute("width", String(Math.max(width - 4, 1)));
    bar.setAttribute("height", String(h));
    svg.append(bar);
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", String(i * width + 2));
    label.setAttribute("y", "135");
    label.textContent = new Date(time).toLocaleTimeString("en-GB",
      {timeZone: TZ, hour: "2-digit", minute: "2-digit"}) + " " + value;
    svg.append(label);
  });
}

async function logout() {
  await api("/api/auth/logout", {method: "POST"});
  location.reload();
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("lang").addEventListener("change", () => { lang = $("lang").value; localStorage.setItem("lang", lang); applyLang(); });
  applyLang();
  start().catch(() => { /* not logged in yet */ });
});
