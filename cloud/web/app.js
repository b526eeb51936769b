// Operations-centre page: login, emergency reports with an alarm, live alert cards (SSE) with
// their measurement and evidence, workflow buttons, the camera map and plots, citizen reports.
// Words come from the catalogues (i18n.js); data strings are inserted as text only.
"use strict";
const ALARM_EVERY_MS = 1500;
const SEVERITY_ORDER = ["critical", "high", "medium", "low", "info"];
const STATE_ORDER = ["new", "acknowledged", "resolved", "dismissed"];
const FALSE_ALARM_REASONS = ["wrong_object", "wrong_class", "zone_geometry", "speed_measurement",
  "allowed_here", "camera_view", "duplicate", "other"];
let me = null;
let settings = {timezone: I18N.tz, tile_url: null, roads_url: "", open_data_k: 5};
let source = null;
let cameraShown = null;
// The page keeps every open card (new, acknowledged) and the latest closed ones: a page left
// open for days holds at most MAX_CLOSED_CARDS closed cards, with their events and images.
const MAX_CLOSED_CARDS = 100;
const MAX_OPEN_CARDS = 500;  // the most the API lists at once; more: the latest
const cards = new Map();  // alert id -> alert
let lastSeq = 0;  // the latest alert change seen (the live stream resumes after it)
const events = new Map();  // event id -> event (the measurement a card shows)
const thumbs = new Map();  // event id -> object URL of its evidence image, "" when none (yet)
const THUMB_TRIES = 6;  // images travel apart from their event: ask again, 10 s apart
const thumbTries = new Map();  // event id -> attempts so far
const eventTries = new Map();  // event id -> failed fetches of the event (asked again THUMB_TRIES times)
const thumbImgs = new Map();  // event id -> its <img>, reused by every re-render of the card,
// so an image the operator enlarged stays enlarged (and keeps loading) when the card refreshes
const falseAlarms = new Map();  // alert id -> false-alarm record
const cams = new Map();  // camera id -> camera
const reports = new Map();  // ticket -> report shown
let emergencies = [];
let audio = null;
let alarmTimer = null;
const $ = (id) => document.getElementById(id);

function cameraName(c) {
  const name = I18N.lang === "vi" ? (c.name_vi || c.name || c.name_en) : (c.name_en || c.name || c.name_vi);
  return name || t("ui.camera_unknown", {id: c.camera_id});
}

function cameraOf(id) { return cameraName(cams.get(id) || {camera_id: id}); }

async function api(path, options) {
  const res = await fetch(path, Object.assign({credentials: "same-origin"}, options || {}));
  if (!res.ok) throw new Error(res.status + " " + path);
  return res.status === 204 ? null : res.json();
}

function post(path, body) {
  return api(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body || {})});
}

async function login(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  audio = audio || new AudioContext();  // created inside the click: browsers allow sound after it
  try {
    await post("/api/auth/login", {username: $("username").value, password: $("password").value});
  } catch (e) {
    $("login-error").textContent = t("ui.badlogin");
    return;
  }
  await start();
}

async function start() {
  me = await api("/api/auth/me");
  settings = await api("/api/ui-settings");
  I18N.tz = settings.timezone;
  $("login").hidden = true;
  $("board").hidden = false;
  $("logout").hidden = false;
  renderWho();
  for (const f of await api("/api/false-alarms?limit=500")) falseAlarms.set(f.alert_id, f);
  await refreshCameras();  // first: the cards name their cameras
  // every open card, however old, then the latest of any state
  const open = await api("/api/alerts?state=new&state=acknowledged&limit=" + MAX_OPEN_CARDS);
  const latest = await api("/api/alerts?limit=" + MAX_CLOSED_CARDS);
  loadCards([...open, ...latest]);
  await redrawMap();
  await Promise.all([loadEmergencies(), loadReports(), drawNodes(), drawCityPlot()]);
  setInterval(loadEmergencies, 3000);
  setInterval(loadReports, 3000);
  setInterval(refreshCameras, 10000);
  setInterval(drawNodes, 10000);
  setInterval(retryMissing, 10000);
  setInterval(drawCityPlot, 60000);
  connect();
}

function renderWho() {
  if (me) $("who").textContent = t("ui.who", {name: me.name, role: t("ui.role." + me.role)});
}

function connect() {
  source = new EventSource("/api/live?after=" + lastSeq);
  source.onopen = () => { $("live-dot").className = "on"; renderLive(); };
  source.onerror = () => { $("live-dot").className = ""; renderLive(); };
  source.addEventListener("alert", (msg) => {
    const alert = JSON.parse(msg.data);
    upsert(alert, !cards.has(alert.id));
    redrawMap();
  });
}

function renderLive() {
  $("live-text").textContent = source && source.readyState === 1 ? t("ui.live") : t("ui.disconnected");
}

// ---- alert cards ------------------------------------------------------------------------

function takeCard(alert) {
  // Takes the newer copy of a card; false for an older one (a list read before a change)
  const before = cards.get(alert.id);
  if (before && before.updated_seq > alert.updated_seq) return false;
  lastSeq = Math.max(lastSeq, alert.updated_seq);
  if (before && before.latest_event_id !== alert.latest_event_id) forgetEvent(before.latest_event_id);
  cards.set(alert.id, alert);
  return true;
}

function loadCards(list) {
  // Many cards at once (the page's start): kept, pruned and drawn once, not one by one
  for (const a of list) takeCard(a);
  for (const a of pruneCards(sortedCards())) renderCard(a);
  sortCards();
}

function upsert(alert, fresh) {
  if (!takeCard(alert)) return;
  const card = renderCard(alert);
  sortCards();
  if (fresh) {
    card.classList.add("flash");
    if (["high", "critical"].includes(alert.severity)) tone([880], 0.2);
  }
}

function isOpen(a) { return a.state === "new" || a.state === "acknowledged"; }

function pruneCards(list) {
  // Keeps the open cards (all, up to MAX_OPEN_CARDS) and the latest MAX_CLOSED_CARDS closed
  // ones of a list sorted for display; forgets the rest with their events and images
  let open = 0, closed = 0;
  return list.filter((a) => {
    const keep = isOpen(a) ? ++open <= MAX_OPEN_CARDS : ++closed <= MAX_CLOSED_CARDS;
    if (!keep) forgetCard(a);
    return keep;
  });
}

function forgetCard(a) {
  cards.delete(a.id);
  falseAlarms.delete(a.id);
  forgetEvent(a.latest_event_id);
  const card = document.querySelector('[data-alert="' + a.id + '"]');
  if (card) card.remove();
}

function forgetEvent(id) {
  // The event a card no longer shows: its measurement and its image (object URLs hold the bytes)
  const url = thumbs.get(id);
  if (url) URL.revokeObjectURL(url);
  for (const m of [events, eventTries, thumbs, thumbTries, thumbImgs]) m.delete(id);
}

function rank(a) {
  return STATE_ORDER.indexOf(a.state) * 10 + SEVERITY_ORDER.indexOf(a.severity);
}

function sortedCards() {
  return [...cards.values()].sort((a, b) => rank(a) - rank(b) || Date.parse(b.last_time) - Date.parse(a.last_time));
}

function sortCards() {
  const list = pruneCards(sortedCards());
  const box = $("alerts");
  const shown = new Map([...box.querySelectorAll("[data-alert]")].map((node) => [node.dataset.alert, node]));
  for (const a of list) if (shown.has(String(a.id))) box.append(shown.get(String(a.id)));
  $("no-alerts").hidden = list.length > 0;
}

function renderCard(a) {
  let card = document.querySelector('[data-alert="' + a.id + '"]');
  if (!card) {
    card = el("article", {"data-alert": String(a.id)});
    $("alerts").append(card);
  }
  card.className = "card sev-" + a.severity + " state-" + a.state + (card.classList.contains("flash") ? " flash" : "");
  const ev = events.get(a.latest_event_id);
  if (ev === undefined && eventTriesLeft(a.latest_event_id)) loadEvent(a);
  card.replaceChildren();
  const head = el("div", {class: "head"});
  head.append(el("span", {class: "type"}, t("event_type." + a.type)),
    el("span", {class: "sev sev-" + a.severity}, t("severity." + a.severity)),
    el("span", {class: "state"}, t("alert_state." + a.state)));
  card.append(head);
  const zone = ev && ev.payload.geometry && ev.payload.geometry.zone;
  card.append(el("div", {class: "where"}, zone ? t("ui.where", {camera: cameraOf(a.camera_id), zone: t("ui.zone", {zone: zoneName(zone)})}) : cameraOf(a.camera_id)));
  const measure = ev ? measurement(ev) : [];
  if (measure.length) card.append(el("div", {class: "measure"}, measure.join(" · ")));
  const when = a.first_time === a.last_time ? dateTime(a.last_time) : t("ui.first_last", {first: dateTime(a.first_time), last: clock(a.last_time)});
  card.append(el("div", {class: "time"}, when + " · " + eventsN(a.event_count)));
  if (a.type !== a.rule && a.rule) card.append(el("div", {class: "rule"}, ruleName(a.rule)));
  card.append(evidence(a));
  card.append(...closedLines(a));
  card.append(actions(a));
  return card;
}

function cameraStatus(at, m) {
  // What the camera's supervisor said: its state, the failing part, an overloaded box's rate
  const out = [];
  if (at.status) out.push(t("camera_status." + at.status));
  if (at.stage && at.stage.startsWith("rule:")) out.push(t("stage.rule", {rule: ruleName(at.stage.slice(5))}));
  else if (at.stage) out.push(I18N.has("stage." + at.stage) ? t("stage." + at.stage) : at.stage);
  if (m.processed_fps !== undefined) {
    const share = unit.pct(m.dropped_share || 0);
    out.push(m.max_fps !== undefined
      ? t("measure.processing", {fps: num(m.processed_fps, 1), max: num(m.max_fps, 1), share: share})
      : t("measure.processing_nomax", {fps: num(m.processed_fps, 1), share: share}));
  }
  return out;
}

function zoneName(zone) {
  // Zone, lane and line names of the scene configs: words in the catalogue, else the name
  return I18N.has("zone." + zone) ? t("zone." + zone) : zone.replaceAll("_", " ");
}

function eventsN(n) { return n === 1 ? t("ui.events_one") : t("ui.events_n", {n: num(n)}); }

function ruleName(rule) { return I18N.has("rule." + rule) ? t("rule." + rule) : t("rule.other", {rule: rule}); }

function closedLines(a) {
  const out = [];
  if (a.acknowledged_by) out.push(el("div", {class: "by"}, t("ui.acknowledged_by", {name: a.acknowledged_by, time: clock(a.acknowledged_at)})));
  if (a.closed_by) out.push(el("div", {class: "by"}, t("ui.closed_by", {name: a.closed_by, time: clock(a.closed_at)})));
  const fa = falseAlarms.get(a.id);
  if (fa) out.push(el("div", {class: "false-alarm"}, t("ui.false_alarm_was", {reason: t("false_alarm." + fa.reason)})));
  if (a.note) out.push(el("div", {class: "note"}, t("ui.note", {note: a.note})));
  return out;
}

function shows(a) {
  // The card of ``a`` is still on the page, showing the same event
  const now = cards.get(a.id);
  return now !== undefined && now.latest_event_id === a.latest_event_id;
}

async function loadEvent(a) {
  events.set(a.latest_event_id, null);  // asked for once
  let ev;
  try {
    ev = await api("/api/events/" + a.latest_event_id);
  } catch (e) {  // asked again by retryMissing, a few times
    if (!shows(a)) return;
    events.delete(a.latest_event_id);
    eventTries.set(a.latest_event_id, (eventTries.get(a.latest_event_id) || 0) + 1);
    return;
  }
  if (!shows(a)) return;  // forgotten meanwhile: keep nothing of it
  events.set(a.latest_event_id, ev);
  renderCard(cards.get(a.id));
}

function measurement(ev) {
  // The figure that matters for each type, in words and units
  const p = ev.payload, m = p.measurements || {}, at = p.attributes || {}, out = [];
  if (p.object_class) out.push(className(p.object_class));
  switch (p.type) {
    case "speeding":
      if (m.speed_kmh !== undefined && m.limit_kmh !== undefined) {
        out.push(t("measure.speeding", {speed: unit.kmh(m.speed_kmh), limit: unit.kmh(m.limit_kmh), over: unit.kmh(m.speed_kmh - m.limit_kmh)}));
      } else if (m.speed_kmh !== undefined) out.push(t("measure.speed", {speed: unit.kmh(m.speed_kmh)}));
      break;
    case "congestion":
      if (at.level) out.push(t("measure.congestion", {level: t("level." + at.level)}));
      if (m.queue_m !== undefined) out.push(t("measure.queue", {length: unit.m(m.queue_m)}));
      if (m.vehicles !== undefined) out.push(t("measure.vehicles", {n: num(m.vehicles)}));
      if (m.mean_speed_kmh !== undefined) out.push(t("measure.mean_speed", {speed: unit.kmh(m.mean_speed_kmh)}));
      break;
    case "wrong_way":
      if (at.lane) out.push(t("measure.lane", {lane: zoneName(String(at.lane))}));
      break;
    case "red_light":
      if (at.stop_line) out.push(t("measure.stop_line", {line: zoneName(String(at.stop_line)), signal: t("signal." + (at.signal_state || "unknown"))}));
      break;
    case "no_helmet":
      if (m.riders !== undefined) out.push(t("measure.helmet", {bare: num(m.riders_without_helmet || 0), riders: num(m.riders)}));
      break;
    case "camera_health":
      if (at.condition) out.push(t("condition." + at.condition));
      break;
    case "camera_status":
      out.push(...cameraStatus(at, m));
      break;
    case "zone_occupancy":
      if (m.count !== undefined) out.push(t("measure.occupancy", {n: num(m.count), dwell: unit.duration(m.max_dwell_s || 0)}));
      break;
    case "count":
      if (m.count !== undefined) out.push(t("measure.count", {n: num(m.count)}));
      break;
    default:
      if (m.speed_kmh !== undefined) out.push(t("measure.speed", {speed: unit.kmh(m.speed_kmh)}));
  }
  if (m.duration_s >= 1) out.push(t("measure.duration", {duration: unit.duration(m.duration_s)}));
  if (p.phase && p.phase !== "instant") out.push(t("phase." + p.phase));
  return out;
}

function evidence(a) {
  // Operators see the (blurred) evidence image inline; viewers are told why they do not
  const box = el("div", {class: "evidence"});
  if (!me || me.role === "viewer") {
    box.append(el("span", {class: "muted"}, t("ui.evidence_viewer")));
    return box;
  }
  const wanted = imageWanted(a.latest_event_id);
  const url = thumbs.get(a.latest_event_id);
  if (wanted === false) {  // its event says no image was made: nothing to ask for
    box.append(el("span", {class: "muted"}, t("ui.evidence_none")));
  } else if (wanted === null || url === undefined || url === null) {  // null: being fetched
    box.append(el("span", {class: "muted"}, t("ui.evidence_loading")));
    if (wanted && url === undefined) loadThumb(a);  // the event first: it says if one comes
  } else if (url === "") {
    box.append(el("span", {class: "muted"}, t("ui.evidence_none")));
  } else {
    let img = thumbImgs.get(a.latest_event_id);
    if (img === undefined) {
      img = el("img", {class: "thumb", src: url});
      img.onclick = () => img.classList.toggle("big");
      thumbImgs.set(a.latest_event_id, img);
    }
    img.alt = t("ui.evidence_alt");  // the language may have changed
    box.append(img);
  }
  return box;
}

function imageWanted(id) {
  // Whether to ask for the event's image: true, false, or null while its event is on its way
  // (an event that could not be fetched after a few tries: ask for the image anyway)
  const ev = events.get(id);
  if (ev) return imageComing(ev);
  return ev === undefined && !eventTriesLeft(id) ? true : null;
}

function eventTriesLeft(id) {
  // Whether a card's event may be asked for (again): a failed fetch is retried a few times
  return (eventTries.get(id) || 0) < THUMB_TRIES;
}

function imageComing(ev) {
  // Whether the event has an evidence image, now or on its way. The edge says on a start or
  // instant event whether it made images (never for a camera status); an update or end
  // event is shown with the image of its incident's start, which the server finds.
  const p = ev.payload;
  if (p.phase !== "start" && p.phase !== "instant") return true;
  return Boolean(p.evidence && (p.evidence.snapshot || p.evidence.crop));
}

async function loadThumb(a) {
  const id = a.latest_event_id;
  thumbs.set(id, null);
  thumbTries.set(id, (thumbTries.get(id) || 0) + 1);
  let url = "";
  try {
    for (const kind of ["snapshot", "crop"]) {
      const res = await fetch("/api/events/" + id + "/evidence/" + kind, {credentials: "same-origin"});
      if (res.ok) { url = URL.createObjectURL(await res.blob()); break; }
    }
  } catch (e) { /* the network failed: "" is asked again by retryMissing */ }
  if (!shows(a)) {  // forgotten meanwhile: keep nothing of it
    if (url) URL.revokeObjectURL(url);
    return;
  }
  thumbs.set(id, url);
  renderCard(cards.get(a.id));
}

function retryMissing() {
  // An event whose fetch failed is asked again; evidence images arrive after their event (a
  // separate message), so one not there yet is asked again a few times
  for (const a of cards.values()) {
    const id = a.latest_event_id;
    if (events.get(id) === undefined && eventTriesLeft(id)) {
      loadEvent(a);
      continue;
    }
    if (!me || me.role === "viewer" || imageWanted(id) !== true) continue;
    const url = thumbs.get(id);
    if ((url === undefined || url === "") && (thumbTries.get(id) || 0) < THUMB_TRIES) loadThumb(a);
  }
}

function actions(a) {
  const box = el("div", {class: "actions"});
  if (me && me.role !== "viewer" && (a.state === "new" || a.state === "acknowledged")) {
    if (a.state === "new") box.append(button("acknowledge", t("action.acknowledge"), () => act(a.id, "acknowledge")));
    box.append(button("resolve", t("action.resolve"), () => act(a.id, "resolve")));
    const reason = el("select", {name: "reason", "aria-label": t("ui.false_alarm_reason")});
    for (const r of FALSE_ALARM_REASONS) reason.append(el("option", {value: r}, t("false_alarm." + r)));
    box.append(button("false-alarm", t("action.false_alarm"), () => falseAlarm(a.id, reason.value)), reason);
  }
  box.append(button("history", t("ui.history"), () => showAudit(a.id)));
  return box;
}

function button(action, label, onclick) {
  const b = el("button", {type: "button", "data-action": action}, label);
  b.onclick = onclick;
  return b;
}

async function act(id, action) {
  upsert(await post("/api/alerts/" + id + "/" + action, {}), false);
  await showAudit(id);
  redrawMap();
}

async function falseAlarm(id, reason) {
  const alert = await post("/api/false-alarms", {alert_id: id, reason: reason});
  const a = cards.get(id);
  falseAlarms.set(id, {alert_id: id, reason: reason, rule: a.rule, type: a.type});
  upsert(alert, false);
  await showAudit(id);
  redrawMap();
}

let auditShown = null;

async function showAudit(id) {
  auditShown = id;
  const list = $("audit");
  list.replaceChildren();
  for (const line of await api("/api/alerts/" + id + "/audit")) {
    const action = I18N.has("audit." + line.action) ? t("audit." + line.action) : line.action;
    list.append(el("li", {}, t("audit.line", {time: dateTime(line.time), actor: line.actor, action: action})));
  }
}

// ---- emergencies --------------------------------------------------------------------------

async function loadEmergencies() {
  emergencies = await api("/api/reports/emergencies");
  renderEmergencies();
}

function renderEmergencies() {
  const box = $("emergencies");
  box.replaceChildren();
  for (const e of emergencies) {
    const item = el("article", {class: "emergency" + (e.acknowledged_by ? " taken" : " ringing"), "data-emergency": e.ticket});
    item.append(el("div", {class: "title"}, t("ui.emergency_title") + " · " + e.ticket + " · " + t("category." + e.category)));
    const where = e.address || (e.lat !== null ? t("ui.coords", {lat: e.lat.toFixed(5), lon: e.lon.toFixed(5)}) : t("ui.no_place"));
    item.append(el("div", {class: "where"}, t("ui.emergency_at", {time: dateTime(e.requested_at), where: where})));
    item.append(el("p", {class: "text"}, e.description));
    if ((e.emergency_numbers || []).length) item.append(el("div", {class: "numbers"}, t("ui.emergency_numbers", {numbers: e.emergency_numbers.join(", ")})));
    if (e.acknowledged_by) {
      item.append(el("div", {class: "by"}, t("ui.emergency_taken", {name: e.acknowledged_by, time: clock(e.acknowledged_at)})));
    } else if (me && me.role !== "viewer") {
      item.append(button("take-emergency", t("ui.emergency_take"), () => takeEmergency(e.ticket)));
    }
    box.append(item);
  }
  box.hidden = emergencies.length === 0;
  alarm(emergencies.some((e) => !e.acknowledged_by));
}

async function takeEmergency(ticket) {
  await post("/api/reports/" + encodeURIComponent(ticket) + "/acknowledge", {});
  await loadEmergencies();
}

function alarm(on) {
  // A two-tone alarm every ALARM_EVERY_MS while an emergency waits for an operator
  document.body.dataset.alarm = on ? "on" : "off";
  if (on && alarmTimer === null) {
    const ring = () => { tone([988, 740], 0.25); document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1); };
    ring();
    alarmTimer = setInterval(ring, ALARM_EVERY_MS);
  } else if (!on && alarmTimer !== null) {
    clearInterval(alarmTimer);
    alarmTimer = null;
  }
}

function tone(frequencies, seconds) {
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
    frequencies.forEach((f, i) => {
      const osc = audio.createOscillator();
      osc.frequency.value = f;
      osc.connect(audio.destination);
      osc.start(audio.currentTime + i * seconds);
      osc.stop(audio.currentTime + (i + 1) * seconds);
    });
  } catch (e) { /* no audio device: the flashing banner remains */ }
}

// ---- map, cameras and plots --------------------------------------------------------------------

async function refreshCameras() {
  const before = [...cams.values()].map(cameraName).join("|");
  for (const c of await api("/api/cameras")) cams.set(c.camera_id, c);
  if ([...cams.values()].map(cameraName).join("|") !== before) for (const a of cards.values()) renderCard(a);
  await redrawMap();
}

function redrawMap() {
  const open = new Map();
  for (const a of cards.values()) if (a.state === "new" || a.state === "acknowledged") open.set(a.camera_id, (open.get(a.camera_id) || 0) + 1);
  return drawMap([...cams.values()], open, showCamera);
}

async function drawNodes() {
  const list = $("nodes");
  list.replaceChildren();
  for (const n of await api("/api/nodes")) {
    list.append(el("li", {class: n.state}, t("node.line", {site: n.site_id, node: n.node_id, state: t("node_state." + n.state)})));
  }
}

async function drawCityPlot() {
  const plots = await api("/api/plots/city?hours=24");
  $("city-empty").hidden = plots.events.length > 0;
  $("city-chart").parentElement.hidden = plots.events.length === 0;
  drawCity("city-chart", plots);
}

async function showCamera(cam) {
  cameraShown = cam;
  const plots = await api("/api/plots/camera/" + encodeURIComponent(cam.camera_id) + "?hours=24");
  $("camera-panel").hidden = false;
  $("camera-hint").hidden = true;
  $("camera-panel").dataset.camera = cam.camera_id;
  $("camera-title").textContent = cameraName(cam);
  const state = cam.state in {online: 1, offline: 1, degraded: 1} ? cam.state : "unknown";
  const params = {state: t("node_state." + state), events: eventsN(cam.events)};
  $("camera-state").textContent = cam.lat !== null
    ? t("ui.camera_state", Object.assign(params, {lat: cam.lat.toFixed(5), lon: cam.lon.toFixed(5)}))
    : t("ui.camera_state_nopos", params);
  $("camera-state").className = "state-" + state;
  $("camera-summary").textContent = flowSummary(plots);
  $("counts-empty").hidden = plots.counts.length > 0;
  $("speed-empty").hidden = plots.speeds.length > 0;
  $("counts-chart").parentElement.hidden = plots.counts.length === 0;  // no empty axes
  $("speed-chart").parentElement.hidden = plots.speeds.length === 0;
  drawCounts("counts-chart", plots);
  drawSpeeds("speed-chart", plots);
  await showSnapshot(cam);
}

function flowSummary(plots) {
  // Total of the day and the busiest hour, in vehicles per hour
  let total = 0;
  const hours = new Map();
  for (const r of plots.counts) {
    total += r.count || 0;
    const h = r.interval_start.slice(0, 13);
    hours.set(h, (hours.get(h) || 0) + (r.count || 0));
  }
  if (!total) return "";
  const [peakHour, peak] = [...hours.entries()].sort((a, b) => b[1] - a[1])[0];
  return t("ui.flow_summary", {total: num(total), peak: clock(peakHour + ":00:00Z") + " (" + unit.perHour(peak) + ")"});
}

async function showSnapshot(cam) {
  // Operators only (the server refuses viewers and audits every view)
  $("camera-snapshot").hidden = true;
  if (!me || me.role === "viewer" || !cam.has_snapshot) return;
  const res = await fetch("/api/cameras/" + encodeURIComponent(cam.camera_id) + "/snapshot", {credentials: "same-origin"});
  if (!res.ok) return;
  $("camera-image").src = URL.createObjectURL(await res.blob());
  $("camera-snapshot").hidden = false;
}

// ---- citizen reports -----------------------------------------------------------------------------

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
  card.append(el("div", {class: "meta"}, t("ui.report_meta", {ticket: r.ticket, category: t("category." + r.category),
    urgency: t("urgency." + r.urgency), status: t("report_status." + r.status)})));
  const where = [dateTime(r.requested_at)];
  if (r.address) where.push(r.address);
  if (r.lat !== null) where.push(t("ui.coords", {lat: r.lat.toFixed(5), lon: r.lon.toFixed(5)}));
  card.append(el("div", {class: "time"}, where.join(" · ")));
  card.append(el("p", {class: "text"}, r.description));
  card.append(el("div", {class: "reply", title: t("ui.autoreply")}, r.reply));
  if (r.status_notes) card.append(el("div", {class: "notes"}, t("ui.answer") + ": " + r.status_notes));
  if (r.duplicate_of) card.append(el("div", {class: "dup"}, t("ui.duplicate_of", {ticket: r.duplicate_of})));
  if (r.contact) {
    const c = r.contact;
    card.append(el("div", {class: "contact"}, [c.first_name, c.last_name, c.phone, c.email].filter(Boolean).join(" · ")));
  }
  const ev = el("ul", {class: "evidence", "aria-label": t("ui.camera_evidence")});
  if (!r.evidence.length) ev.append(el("li", {}, t("ui.no_camera_evidence")));
  for (const e of r.evidence) {
    const li = el("li", {"data-event": e.event_id}, cameraOf(e.camera_id) + " · " + t("event_type." + e.type) + " · " + dateTime(e.time));
    if (me && me.role !== "viewer" && e.has_snapshot) {
      li.append(" ", button("report-evidence", t("ui.view_image"), () => showImage(li, "/api/events/" + e.event_id + "/evidence/snapshot")));
    }
    ev.append(li);
  }
  card.append(ev);
  if (me && me.role !== "viewer") reportControls(card, r);
}

function reportControls(card, r) {
  if (r.has_media) card.append(button("report-photo", t("ui.photo"), () => showImage(card, "/api/reports/" + encodeURIComponent(r.ticket) + "/photo")));
  const form = el("form", {class: "answer"});
  const select = el("select", {name: "status", "aria-label": t("ui.status")});
  for (const s of ["open", "confirmed", "closed"]) {
    const o = el("option", {value: s}, t("report_status." + s));
    if (s === r.status) o.selected = true;
    select.append(o);
  }
  const notes = el("textarea", {name: "notes", rows: "2", maxlength: "2000", placeholder: t("ui.answer")});
  notes.value = r.status_notes || "";
  form.append(select, notes, el("button", {type: "submit", "data-action": "report-save"}, t("ui.save")));
  form.onsubmit = (ev) => { ev.preventDefault(); reportAction(r.ticket, "status", {status: select.value, notes: notes.value || null}); };
  card.append(form);
  const merge = el("form", {class: "merge"});
  const into = el("input", {name: "into", size: "10", placeholder: "PA-000001", "aria-label": t("ui.merge")});
  merge.append(into, el("button", {type: "submit", "data-action": "report-merge"}, t("ui.merge")));
  merge.onsubmit = (ev) => { ev.preventDefault(); if (into.value) reportAction(r.ticket, "merge", {into: into.value}); };
  card.append(merge);
}

async function reportAction(ticket, action, body) {
  await post("/api/reports/" + encodeURIComponent(ticket) + "/" + action, body);
  reports.delete(ticket);
  await Promise.all([loadReports(), loadEmergencies()]);
}

async function showImage(parent, url) {
  const res = await fetch(url, {credentials: "same-origin"});
  if (!res.ok) return;
  const old = parent.querySelector(":scope > img");
  if (old) old.remove();
  parent.append(el("img", {alt: t("ui.evidence_alt"), src: URL.createObjectURL(await res.blob())}));
}

// ---- language and start-up ----------------------------------------------------------------------

async function setLanguage(lang) {
  await I18N.load(lang);
  $("lang").value = lang;
  translateStatic();
  document.title = t("ui.title");
  renderWho();
  renderLive();
  for (const a of cards.values()) renderCard(a);
  for (const r of reports.values()) renderReport(r);
  if (me) {
    renderEmergencies();
    await drawNodes();
    if (auditShown !== null) await showAudit(auditShown);
    await redrawMap();
    await drawCityPlot();
    if (cameraShown) await showCamera(cams.get(cameraShown.camera_id) || cameraShown);
  }
}

async function logout() {
  await post("/api/auth/logout", {});
  location.reload();
}

document.addEventListener("DOMContentLoaded", async () => {
  $("login").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("report-status").addEventListener("change", () => { reports.clear(); $("reports").replaceChildren(); loadReports(); });
  $("lang").addEventListener("change", () => setLanguage($("lang").value));
  await setLanguage(I18N.lang);
  start().catch(() => { /* not logged in yet */ });
});
