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
    online: "trực tuyến", offline_node: "ngoại tuyến", degraded: "suy giảm", unknown: "chưa rõ",
    reports: "Phản ánh của người dân", status: "Trạng thái", all: "Tất cả", open: "mới",
    confirmed: "đã xác minh", closed: "đã đóng", emergency: "khẩn cấp", high: "cao",
    normal: "bình thường", autoreply: "Trả lời tự động", answer: "Trả lời của cán bộ",
    save: "Lưu", merge: "Gộp vào phiếu", duplicate: "Trùng với phiếu", photo: "Xem ảnh gửi kèm",
    latest: "Ảnh mới nhất", camera_evidence: "Bằng chứng camera", no_evidence: "Không có sự kiện camera",
    accident: "tai nạn", congestion: "ùn tắc", signal_fault: "đèn tín hiệu hỏng",
    illegal_parking: "dừng đỗ sai", dangerous_driving: "lái xe nguy hiểm",
    road_hazard: "hư hỏng đường / vật cản", other: "khác"},
  en: {title: "Traffic operations centre", username: "User name", password: "Password",
    login: "Log in", logout: "Log out", alerts: "Alerts", cameras: "Cameras",
    audit: "Audit log", acknowledge: "Acknowledge", resolve: "Resolve", dismiss: "False positive",
    evidence: "View image", live: "Live", offline: "Disconnected", events: "events",
    new: "new", acknowledged: "acknowledged", resolved: "resolved", dismissed: "dismissed",
    badlogin: "Wrong user name or password", history: "History",
    vehicles: "Vehicles per 15 minutes (last 6 hours)", speed: "Mean / P85 speed (km/h)",
    online: "online", offline_node: "offline", degraded: "degraded", unknown: "unknown",
    reports: "Citizen reports", status: "Status", all: "All", open: "open",
    confirmed: "confirmed", closed: "closed", emergency: "emergency", high: "high",
    normal: "normal", autoreply: "Automatic reply", answer: "Operator's answer",
    save: "Save", merge: "Merge into ticket", duplicate: "Duplicate of", photo: "View attached photo",
    latest: "Latest snapshot", camera_evidence: "Camera evidence", no_evidence: "No camera event",
    accident: "accident", congestion: "congestion", signal_fault: "signal fault",
    illegal_parking: "illegal parking", dangerous_driving: "dangerous driving",
    road_hazard: "road hazard", other: "other"},
};
let lang = localStorage.getItem("lang") || "vi";
let me = null;
let source = null;
const cards = new Map();
const images = new Map();  // alert id -> object URL of the evidence image shown
const reports = new Map();  // ticket -> report shown (re-rendered only when it changed)
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
  for (const r of reports.values()) renderReport(r);
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
  await loadReports();
  setInterval(drawNodes, 10000);
  setInterval(drawMap, 10000);
  setInterval(loadReports, 3000);
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

const TILE = 256, TILE_MARGIN = 24, TILE_MAX_ZOOM = 18;
let tileUrl;  // the map_tile_url setting: undefined until read, null for the grid

function mercator(lat, lon, z) {
  // Web-Mercator "world pixel" of a position at zoom z (the slippy-map tile scheme)
  const size = TILE * 2 ** z, s = Math.sin(Math.max(-85.0511, Math.min(85.0511, lat)) * Math.PI / 180);
  return [(lon + 180) / 360 * size, (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * size];
}

function drawTiles(map, box, w, h, fullH) {
  // The highest zoom where the cameras' box fits in w x h inside the margin, centred there;
  // tiles cover w x fullH. Returns the projection of a position to the map element's pixels.
  let z = TILE_MAX_ZOOM, nw, se;
  for (; z >= 0; z--) {
    nw = mercator(box[2], box[1], z); se = mercator(box[0], box[3], z);
    if (se[0] - nw[0] <= w - 2 * TILE_MARGIN && se[1] - nw[1] <= h - 2 * TILE_MARGIN) break;
  }
  z = Math.max(z, 0);
  nw = mercator(box[2], box[1], z); se = mercator(box[0], box[3], z);
  const ox = (nw[0] + se[0] - w) / 2, oy = (nw[1] + se[1] - h) / 2, n = 2 ** z;
  for (let ty = Math.max(0, Math.floor(oy / TILE)); ty < n && ty * TILE < oy + fullH; ty++) {
    for (let tx = Math.floor(ox / TILE); tx * TILE < ox + w; tx++) {
      const x = ((tx % n) + n) % n;
      const src = tileUrl.replaceAll("{z}", z).replaceAll("{x}", x).replaceAll("{y}", ty);
      const img = el("img", {class: "tile", alt: "", src: src, "data-tile": z + "/" + x + "/" + ty});
      img.style.left = Math.round(tx * TILE - ox) + "px";
      img.style.top = Math.round(ty * TILE - oy) + "px";
      img.onerror = () => img.remove();  // tile server unreachable: the grid shows through
      map.append(img);
    }
  }
  return (lat, lon) => { const p = mercator(lat, lon, z); return [p[0] - ox, p[1] - oy]; };
}

async function drawMap() {
  // With the map_tile_url setting: Web-Mercator tiles from the city's tile server under the
  // cameras. Without (works offline): registered cameras are placed by latitude/longitude
  // inside the box of all positions, with its corner coordinates written on the grid. Cameras
  // without a position follow in a row at the bottom. Colour: red while a new alert, else
  // node state.
  const map = $("map");
  if (tileUrl === undefined) tileUrl = (await api("/api/map")).tile_url;
  const cams = await api("/api/cameras");
  map.replaceChildren();
  const alerting = new Set([...cards.values()].filter((a) => a.state === "new").map((a) => a.camera_id));
  const placed = cams.filter((c) => c.lat !== null && c.lon !== null);
  const lats = placed.map((c) => c.lat), lons = placed.map((c) => c.lon);
  const box = placed.length ? [Math.min(...lats), Math.min(...lons), Math.max(...lats), Math.max(...lons)] : null;
  const fullH = map.clientHeight || 180, w = map.clientWidth || 900, h = tileUrl ? fullH - 30 : 130;
  const project = tileUrl && box ? drawTiles(map, box, w, h, fullH) : null;
  map.classList.toggle("tiles", project !== null);
  if (box) {
    const nw = el("span", {class: "axis"}, box[2].toFixed(4) + ", " + box[1].toFixed(4));
    const se = el("span", {class: "axis"}, box[0].toFixed(4) + ", " + box[3].toFixed(4));
    nw.style.left = "2px"; nw.style.top = "2px"; se.style.right = "2px"; se.style.bottom = "2px";
    map.append(nw, se);  // CSSOM, not style attributes: the CSP allows no inline styles
  }
  let row = 0;
  cams.forEach((c) => {
    const dot = el("button", {class: "cam state-" + c.state + (alerting.has(c.camera_id) ? " alerting" : ""),
      "data-camera": c.camera_id, title: (c.name || c.camera_id) + " · " + t(c.state === "offline" ? "offline_node" : c.state)},
      c.name || c.camera_id);
    dot.onclick = () => showCamera(c);
    if (c.lat !== null && c.lon !== null && project) {
      const [x, y] = project(c.lat, c.lon);  // the dot's centre (CSS translate) on the position
      dot.classList.add("pin");
      dot.style.left = Math.round(x) + "px";
      dot.style.top = Math.round(y) + "px";
    } else if (c.lat !== null && c.lon !== null && box) {
      const fx = box[3] > box[1] ? (c.lon - box[1]) / (box[3] - box[1]) : 0.5;
      const fy = box[2] > box[0] ? (box[2] - c.lat) / (box[2] - box[0]) : 0.5;
      dot.style.left = Math.round(20 + fx * (w - 200)) + "px";
      dot.style.top = Math.round(20 + fy * (h - 60)) + "px";
    } else {
      dot.style.left = (20 + (row % 6) * 160) + "px";
      dot.style.top = (h + 10 - 24) + "px";
      row += 1;
    }
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

async function showCamera(cam) {
  const cameraId = cam.camera_id;
  const end = new Date();
  const start = new Date(end.getTime() - 6 * 3600 * 1000);
  const q = new URLSearchParams({start: start.toISOString(), end: end.toISOString(),
    interval_min: "15", camera_id: cameraId});
  const stats = await api("/api/stats?" + q.toString());
  $("camera-panel").hidden = false;
  $("camera-panel").dataset.camera = cameraId;
  $("camera-title").textContent = (cam.name ? cam.name + " (" + cameraId + ")" : cameraId) + " — " + t("vehicles");
  const pos = cam.lat !== null ? " · " + cam.lat.toFixed(5) + ", " + cam.lon.toFixed(5) : "";
  $("camera-state").textContent = t(cam.state === "offline" ? "offline_node" : cam.state) + pos +
    " · " + cam.events + " " + t("events");
  $("camera-state").className = "state-" + cam.state;
  const totals = new Map();
  for (const r of stats.counts) totals.set(r.interval_start, (totals.get(r.interval_start) || 0) + (r.count || 0));
  drawBars($("chart"), [...totals.entries()].sort());
  const speeds = stats.speeds.filter((r) => r.mean_speed_kmh !== null);
  const last = speeds[speeds.length - 1];
  $("camera-speed").textContent = t("speed") + ": " + (last ? last.mean_speed_kmh + " / " + last.p85_speed_kmh : "–");
  await showSnapshot(cam);
}

async function showSnapshot(cam) {
  // Operators only (the server refuses viewers and audits every view).
  $("camera-snapshot").hidden = true;
  if (!me || me.role === "viewer" || !cam.has_snapshot) return;
  const res = await fetch("/api/cameras/" + encodeURIComponent(cam.camera_id) + "/snapshot", {credentials: "same-origin"});
  if (!res.ok) return;
  $("camera-image").src = URL.createObjectURL(await res.blob());
  $("camera-image-caption").textContent = t("latest") + " · " + (res.headers.get("X-Event-Id") || "");
  $("camera-snapshot").hidden = false;
}

async function loadReports() {
  const status = $("report-status").value;
  const list = await api("/api/reports" + (status ? "?status=" + status : ""));
  const wanted = new Set(list.map((r) => r.ticket));
  for (const node of [...$("reports").children]) {
    if (!wanted.has(node.dataset.report)) { node.remove(); reports.delete(node.dataset.report); }
  }
  for (const r of list.reverse()) {
    const known = reports.get(r.ticket);
    if (known && known.updated_at === r.updated_at && known.evidence.length === r.evidence.length) continue;
    reports.set(r.ticket, r);
    renderReport(r);
  }
}

function renderReport(r) {
  let card = document.querySelector('[data-report="' + CSS.escape(r.ticket) + '"]');
  if (!card) {
    card = el("article", {"data-report": r.ticket});
    $("reports").prepend(card);
  }
  card.className = "report urg-" + r.urgency + " status-" + r.status;
  card.replaceChildren();
  card.append(el("div", {class: "meta"}, r.ticket + " · " + t(r.category) + " · " + t(r.urgency) + " · " + t(r.status)));
  card.append(el("div", {class: "time"}, fmt(r.requested_at) + (r.address ? " · " + r.address : "") +
    (r.lat !== null ? " · " + r.lat.toFixed(5) + ", " + r.lon.toFixed(5) : "")));
  card.append(el("p", {class: "text"}, r.description));
  card.append(el("div", {class: "reply", title: t("autoreply")}, r.reply));
  if (r.status_notes) card.append(el("div", {class: "notes"}, t("answer") + ": " + r.status_notes));
  if (r.duplicate_of) card.append(el("div", {class: "dup"}, t("duplicate") + " " + r.duplicate_of));
  if (r.contact) {
    const c = r.contact;
    card.append(el("div", {class: "contact"}, [c.first_name, c.last_name, c.phone, c.email].filter(Boolean).join(" · ")));
  }
  const ev = el("ul", {class: "evidence", "aria-label": t("camera_evidence")});
  if (!r.evidence.length) ev.append(el("li", {}, t("no_evidence")));
  for (const e of r.evidence) {
    const li = el("li", {"data-event": e.event_id}, e.camera_id + " · " + e.type + " · " + fmt(e.time));
    if (me && me.role !== "viewer" && e.has_snapshot) {
      const b = el("button", {"data-action": "report-evidence"}, t("evidence"));
      b.onclick = () => showImage(li, "/api/events/" + e.event_id + "/evidence/snapshot");
      li.append(" ", b);
    }
    ev.append(li);
  }
  card.append(ev);
  if (me && me.role !== "viewer") reportControls(card, r);
}

function reportControls(card, r) {
  if (r.has_media) {
    const p = el("button", {"data-action": "report-photo"}, t("photo"));
    p.onclick = () => showImage(card, "/api/reports/" + encodeURIComponent(r.ticket) + "/photo");
    card.append(p);
  }
  const form = el("form", {class: "answer"});
  const select = el("select", {name: "status", "aria-label": t("status")});
  for (const s of ["open", "confirmed", "closed"]) {
    const o = el("option", {value: s}, t(s));
    if (s === r.status) o.selected = true;
    select.append(o);
  }
  const notes = el("textarea", {name: "notes", rows: "2", maxlength: "2000", placeholder: t("answer")});
  notes.value = r.status_notes || "";
  const save = el("button", {type: "submit", "data-action": "report-save"}, t("save"));
  form.append(select, notes, save);
  form.onsubmit = (ev) => { ev.preventDefault(); reportAction(r.ticket, "status", {status: select.value, notes: notes.value || null}); };
  card.append(form);
  const merge = el("form", {class: "merge"});
  const into = el("input", {name: "into", size: "10", placeholder: "PA-000001", "aria-label": t("merge")});
  merge.append(into, el("button", {type: "submit", "data-action": "report-merge"}, t("merge")));
  merge.onsubmit = (ev) => { ev.preventDefault(); if (into.value) reportAction(r.ticket, "merge", {into: into.value}); };
  card.append(merge);
}

async function reportAction(ticket, action, body) {
  await api("/api/reports/" + encodeURIComponent(ticket) + "/" + action, {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  reports.delete(ticket);
  await loadReports();
}

async function showImage(parent, url) {
  const res = await fetch(url, {credentials: "same-origin"});
  if (!res.ok) return;
  const old = parent.querySelector(":scope > img");
  if (old) old.remove();
  parent.append(el("img", {alt: "evidence", src: URL.createObjectURL(await res.blob())}));
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
  $("report-status").addEventListener("change", () => { reports.clear(); $("reports").replaceChildren(); loadReports(); });
  $("lang").addEventListener("change", () => { lang = $("lang").value; localStorage.setItem("lang", lang); applyLang(); });
  applyLang();
  start().catch(() => { /* not logged in yet */ });
});
