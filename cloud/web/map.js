// The camera map: Web-Mercator tiles from the city's tile server when one is configured, else
// (offline) the roads' vector outline from a local GeoJSON; camera dots coloured by state and
// open alerts clustered into numbered bubbles. Hand-written on purpose: the few hundred lines a
// map library would replace are the projection and the tile loop, and a library would bring its
// own styles and images to fit under the page's CSP.
"use strict";
const TILE = 256, MARGIN_X = 120, MARGIN_Y = 40, MAX_ZOOM = 18, CLUSTER_PX = 36;
// MARGIN_X: half the widest camera label (220 px, .cam.pin), so a label centred on its camera fits
const SVG_NS = "http://www.w3.org/2000/svg";
let roads = null;  // the GeoJSON outline, fetched once

function mercator(lat, lon, z) {
  // Web-Mercator "world pixel" of a position at zoom z (the slippy-map tile scheme)
  const size = TILE * 2 ** z, s = Math.sin(Math.max(-85.0511, Math.min(85.0511, lat)) * Math.PI / 180);
  return [(lon + 180) / 360 * size, (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * size];
}

function fitView(box, w, h) {
  // The highest zoom where box = [minLat, minLon, maxLat, maxLon] fits w x h inside the margin
  let z = MAX_ZOOM;
  for (; z > 0; z--) {
    const nw = mercator(box[2], box[1], z), se = mercator(box[0], box[3], z);
    if (se[0] - nw[0] <= w - 2 * MARGIN_X && se[1] - nw[1] <= h - 2 * MARGIN_Y) break;
  }
  const nw = mercator(box[2], box[1], z), se = mercator(box[0], box[3], z);
  const ox = (nw[0] + se[0] - w) / 2, oy = (nw[1] + se[1] - h) / 2;
  return {z: z, ox: ox, oy: oy, project: (lat, lon) => { const p = mercator(lat, lon, z); return [p[0] - ox, p[1] - oy]; }};
}

function drawTiles(map, view, w, h, tileUrl) {
  const n = 2 ** view.z;
  for (let ty = Math.max(0, Math.floor(view.oy / TILE)); ty < n && ty * TILE < view.oy + h; ty++) {
    for (let tx = Math.floor(view.ox / TILE); tx * TILE < view.ox + w; tx++) {
      const x = ((tx % n) + n) % n;
      const src = tileUrl.replaceAll("{z}", view.z).replaceAll("{x}", x).replaceAll("{y}", ty);
      const img = el("img", {class: "tile", alt: "", src: src, "data-tile": view.z + "/" + x + "/" + ty});
      img.style.left = Math.round(tx * TILE - view.ox) + "px";  // CSSOM: the CSP allows no style attributes
      img.style.top = Math.round(ty * TILE - view.oy) + "px";
      img.onerror = () => img.remove();  // tile server unreachable: the outline colour shows through
      map.append(img);
    }
  }
}

function rings(geometry) {
  if (geometry.type === "Polygon") return geometry.coordinates;
  if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
  if (geometry.type === "LineString") return [geometry.coordinates];
  if (geometry.type === "MultiLineString") return geometry.coordinates;
  return [];
}

function drawRoads(map, view, w, h, features) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", "roads");
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(h));
  for (const f of features) {
    for (const ring of rings(f.geometry)) {
      const d = ring.map(([lon, lat], i) => { const [x, y] = view.project(lat, lon); return (i ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1); }).join(" ");
      const path = document.createElementNS(SVG_NS, "path");
      const closed = f.geometry.type.endsWith("Polygon");
      path.setAttribute("d", d + (closed ? " Z" : ""));
      path.setAttribute("class", closed ? "road-area" : "road-line");
      path.setAttribute("data-road", (f.properties || {}).zone || "");
      svg.append(path);
    }
  }
  map.append(svg);
}

function featureBox(features) {
  const lats = [], lons = [];
  for (const f of features) for (const ring of rings(f.geometry)) for (const [lon, lat] of ring) { lats.push(lat); lons.push(lon); }
  return lats.length ? [Math.min(...lats), Math.min(...lons), Math.max(...lats), Math.max(...lons)] : null;
}

function union(a, b) {
  if (!a) return b;
  if (!b) return a;
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
}

function clusters(points) {
  // Greedy grouping of alert counts whose dots lie within CLUSTER_PX of a group's first dot
  const groups = [];
  for (const p of points) {
    const g = groups.find((q) => Math.hypot(q.x - p.x, q.y - p.y) < CLUSTER_PX);
    if (g) { g.n += p.n; g.cameras.push(p.camera); } else groups.push({x: p.x, y: p.y, n: p.n, cameras: [p.camera]});
  }
  return groups;
}

async function drawMap(cams, openAlerts, onPick) {
  // cams: /api/cameras; openAlerts: camera id -> number of new or acknowledged alerts
  const map = $("map");
  if (settings.tile_url === null && roads === null) {
    try { roads = (await (await fetch(settings.roads_url)).json()).features || []; } catch (e) { roads = []; }
  }
  map.replaceChildren();
  const w = map.clientWidth || 600, h = map.clientHeight || 360;
  const placed = cams.filter((c) => c.lat !== null && c.lon !== null);
  const camBox = placed.length ? [Math.min(...placed.map((c) => c.lat)), Math.min(...placed.map((c) => c.lon)),
    Math.max(...placed.map((c) => c.lat)), Math.max(...placed.map((c) => c.lon))] : null;
  const near = (roads || []).filter((f) => placed.some((c) => c.camera_id === (f.properties || {}).camera_id));
  const box = settings.tile_url ? camBox : union(camBox, featureBox(near));
  map.classList.toggle("tiles", Boolean(settings.tile_url));
  $("map-mode").textContent = settings.tile_url ? t("ui.map_tiles") : t("ui.map_outline");
  const view = box ? fitView(box, w, h) : null;
  if (view && settings.tile_url) drawTiles(map, view, w, h, settings.tile_url);
  if (view && !settings.tile_url) drawRoads(map, view, w, h, near);
  const points = [];
  for (const c of placed) {
    const [x, y] = view.project(c.lat, c.lon);
    const dot = camButton(c, openAlerts, onPick);
    dot.classList.add("pin");
    dot.style.left = Math.round(x) + "px";
    dot.style.top = Math.round(y) + "px";
    map.append(dot);
    if (openAlerts.get(c.camera_id)) points.push({x: x, y: y, n: openAlerts.get(c.camera_id), camera: c.camera_id});
  }
  for (const g of clusters(points)) {
    const bubble = el("span", {class: "cluster", "data-cluster": g.cameras.join(" "), title: t("ui.map_cluster", {n: g.n})}, num(g.n));
    bubble.style.left = Math.round(g.x + 14) + "px";
    bubble.style.top = Math.round(g.y - 22) + "px";
    map.append(bubble);
  }
  const unplaced = $("map-unplaced");
  unplaced.replaceChildren();
  for (const c of cams.filter((c) => c.lat === null || c.lon === null)) unplaced.append(camButton(c, openAlerts, onPick));
  $("map-unplaced-box").hidden = unplaced.children.length === 0;
}

function camButton(c, openAlerts, onPick) {
  const state = c.state in {online: 1, offline: 1, degraded: 1} ? c.state : "unknown";
  const dot = el("button", {type: "button", class: "cam state-" + state + (openAlerts.get(c.camera_id) ? " alerting" : ""),
    "data-camera": c.camera_id, title: cameraName(c) + " · " + t("node_state." + state)}, cameraName(c));
  dot.onclick = () => onPick(c);
  return dot;
}
