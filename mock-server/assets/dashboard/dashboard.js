/* The mock's dashboard: one script for every page. It reads through GET /admin/… and
 * /dashboard/data/…, acts through the admin API only, and listens to /dashboard/events.
 * Every value from the server is put in the page as text (textContent), never as markup:
 * e-mails, paths and reasons come from users. */
"use strict";

const main = document.getElementById("main");
const page = routeOf(location.pathname);
const POWERTRAINS = ["BEV", "PHEV", "HEV", "ICE"];
const PROFILES = ["driving", "charging", "parked", "commute"];
const MAX_ROWS = 200;

function routeOf(path) {
  const vehicle = path.match(/^\/dashboard\/vehicles\/([^/]+)$/);
  if (vehicle) return { name: "vehicle", vehicle: decodeURIComponent(vehicle[1]) };
  const name = path.replace(/^\/dashboard\/?/, "") || "overview";
  return { name };
}

/* ---------- DOM, text only ---------- */

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

function fill(el, ...kids) {
  el.replaceChildren();
  return append(el, kids);
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  return append(el, kids);
}

function vehicleHref(id) {
  return "/dashboard/vehicles/" + encodeURIComponent(id);
}

function badge(text, kind) {
  return h("span", { class: "badge " + (kind || "") }, text);
}

function statusBadge(status) {
  const kind = status >= 500 ? "bad" : status >= 400 ? "warn" : "ok";
  return badge(String(status), kind);
}

function time(text) {
  return text ? String(text).replace("T", " ").replace(/\.\d+Z$|Z$/, "") : "";
}

function percent(fraction) {
  return typeof fraction === "number" ? Math.round(fraction * 1000) / 10 + " %" : "—";
}

/** `NOT_CHARGING` as `NOT CHARGING`, so it wraps. */
function words(text) {
  return String(text).replace(/_/g, " ");
}

function km(value) {
  return typeof value === "number" ? (Math.round(value * 10) / 10).toLocaleString("en") + " km" : "—";
}

/* ---------- the admin API ---------- */

async function api(method, path, body) {
  const init = { method, headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { message: text }; }
  if (!response.ok) {
    const error = new Error((data && (data.message || data.description)) || response.statusText);
    error.status = response.status;
    throw error;
  }
  return data;
}

const get = (path) => api("GET", path);

let toastTimer = 0;
function toast(message, info) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = "toast" + (info ? " info" : "");
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

/** Runs an action; its error is shown, and the page refreshes either way. */
async function act(action) {
  try {
    await action();
  } catch (error) {
    toast(error.message);
  }
  refreshSoon();
}

/* ---------- live updates ---------- */

let refreshTimer = 0;
let refreshing = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(runRefresh, 60);
}

async function runRefresh() {
  if (refreshing) { refreshSoon(); return; }
  refreshing = (async () => {
    try {
      await Promise.all([views[page.name] ? views[page.name].refresh() : null, refreshClock()]);
    } catch (error) {
      toast(error.message);
    }
  })();
  await refreshing;
  refreshing = null;
}

async function refreshClock() {
  const clock = await get("/admin/clock");
  const label = time(clock.now) + " UTC" + (clock.offset_seconds ? " (moved)" : "");
  document.getElementById("clock-badge").textContent = label;
  return clock;
}

function listen() {
  const live = document.getElementById("live");
  const events = new EventSource("/dashboard/events");
  // The server ends a quiet stream now and then and the page reconnects at once: say so only
  // when the reconnection takes a while.
  let lost = 0;
  events.addEventListener("open", () => {
    clearTimeout(lost);
    live.textContent = "live";
    live.className = "live on";
  });
  events.addEventListener("error", () => {
    clearTimeout(lost);
    lost = setTimeout(() => { live.textContent = "reconnecting…"; live.className = "live"; }, 2000);
  });
  for (const name of ["hello", "changed", "lagged"]) events.addEventListener(name, refreshSoon);
  events.addEventListener("request", (event) => {
    const view = views[page.name];
    if (view && view.onRequest) view.onRequest(JSON.parse(event.data));
  });
  events.addEventListener("vehicle", (event) => {
    const view = views[page.name];
    if (view && view.onVehicle) view.onVehicle(JSON.parse(event.data).vehicle);
  });
  events.addEventListener("webhook", () => {
    const view = views[page.name];
    if (view && view.onWebhook) view.onWebhook();
  });
}

/* ---------- shared pieces ---------- */

function requestsTable(records, id) {
  const body = h("tbody", {}, records.slice(0, MAX_ROWS).map((record) => requestRow(record)));
  return h("table", { id },
    h("thead", {}, h("tr", {},
      h("th", {}, "Time"), h("th", {}, "App"), h("th", {}, "Request"), h("th", {}, "Status"),
      h("th", { class: "num" }, "ms"))),
    body);
}

function requestRow(record, fresh) {
  const status = Number(record.status) || 0;
  const kind = status >= 500 ? "server-error" : status >= 400 ? "client-error" : "";
  return h("tr", { class: kind + (fresh ? " fresh" : ""), "data-status": status },
    h("td", { class: "mono" }, time(record.at)),
    h("td", {}, record.app || record.claimed_app || "—"),
    h("td", {},
      h("span", { class: "mono" }, record.method + " " + record.path),
      record.reason ? h("div", { class: "reason" }, record.reason) : null,
      record.fault ? h("div", { class: "muted" }, "fault rule " + record.fault) : null),
    h("td", {}, statusBadge(status)),
    h("td", { class: "num" }, typeof record.latency_ms === "number" ? record.latency_ms.toFixed(1) : ""));
}

function deliveriesTable(logs, id) {
  const rows = [];
  for (const log of logs) {
    for (const delivery of log.deliveries) rows.push({ log, delivery });
  }
  rows.sort((a, b) => String(b.delivery.createdAt).localeCompare(String(a.delivery.createdAt)));
  if (!rows.length) return h("p", { id, class: "muted" }, "No deliveries yet.");
  return h("table", { id },
    h("thead", {}, h("tr", {},
      h("th", {}, "Time"), h("th", {}, "Webhook"), h("th", {}, "Event"), h("th", {}, "State"),
      h("th", {}, "Attempts"), h("th", {}, "Body and signature"))),
    h("tbody", {}, rows.slice(0, MAX_ROWS).map(({ log, delivery }) => h("tr", { "data-event": delivery.eventType },
      h("td", { class: "mono" }, time(delivery.createdAt)),
      h("td", {}, log.name),
      h("td", {}, badge(delivery.eventType)),
      h("td", {}, badge(delivery.state, delivery.state === "delivered" ? "ok" : delivery.state === "failed" ? "bad" : "warn")),
      h("td", {}, delivery.attempts.length ? delivery.attempts.map((attempt) => h("div", {},
        "#" + attempt.attempt + " ",
        attempt.statusCode ? statusBadge(attempt.statusCode) : null,
        " " + attempt.latencyMs + " ms",
        attempt.error ? h("div", { class: "reason" }, attempt.error) : null)) : h("span", { class: "muted" }, "waiting")),
      h("td", {}, h("details", {},
        h("summary", {}, "show"),
        h("div", { class: "muted" }, "sc-signature"),
        h("pre", {}, delivery.signature),
        h("pre", {}, prettyJson(delivery.body))))))));
}

function prettyJson(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return String(text); }
}

function field(label, control) {
  return h("label", {}, label, control);
}

/* ---------- overview ---------- */

const overview = {
  init() {
    this.clock = h("div", { id: "clock" });
    this.limits = h("div", { id: "limits" });
    this.apps = h("div", { id: "apps" });
    const advance = h("input", { id: "advance-by", value: "15m", size: 6, "aria-describedby": "advance-help" });
    const name = h("input", { id: "new-name", value: "Workshop car", maxlength: 60 });
    const powertrain = h("select", { id: "new-powertrain" }, POWERTRAINS.map((p) => h("option", {}, p)));
    this.appSelect = h("select", { id: "new-app" });
    fill(main,
      h("h1", {}, "Overview"),
      h("div", { class: "grid" },
        h("section", { class: "panel", "aria-labelledby": "clock-title" },
          h("h2", { id: "clock-title" }, "Virtual clock"),
          this.clock,
          h("div", { class: "row" },
            ["1m", "10m", "30m", "1h", "1d"].map((by) => h("button", {
              class: "secondary", "data-advance": by, onclick: () => act(() => api("POST", "/admin/clock/advance", { by })),
            }, "+" + by))),
          h("div", { class: "row" },
            field("Advance by", advance),
            h("button", { onclick: () => act(() => api("POST", "/admin/clock/advance", { by: advance.value })) }, "Advance"),
            h("button", { id: "clock-reset", class: "danger", onclick: () => act(() => api("DELETE", "/admin/clock")) }, "Back to wall time")),
          h("p", { id: "advance-help", class: "muted" }, "Trips move with the clock: 30m drives a trip half an hour.")),
        h("section", { class: "panel", "aria-labelledby": "limits-title" },
          h("h2", { id: "limits-title" }, "Request limits"),
          this.limits),
        h("section", { class: "panel", "aria-labelledby": "create-title" },
          h("h2", { id: "create-title" }, "Simulated vehicle"),
          h("div", { class: "row" }, field("Name", name), field("Powertrain", powertrain), field("App", this.appSelect)),
          h("div", { class: "row" }, h("button", {
            id: "create-vehicle",
            onclick: () => act(async () => {
              const created = await api("POST", "/admin/simulator/vehicles", {
                powertrain: powertrain.value, name: name.value, client_id: this.appSelect.value || undefined,
              });
              toast("Created " + created.vehicle_id, true);
            }),
          }, "Create, already connected")))),
      this.apps);
  },

  async refresh() {
    const [clock, limits, vehicles, simulated, apps] = await Promise.all([
      get("/admin/clock"), get("/admin/limits"), get("/admin/vehicles"),
      get("/admin/simulator/vehicles"), get("/dashboard/data/apps"),
    ]);
    fill(this.clock,
      h("div", { class: "stat" },
        h("div", { class: "label" }, "Now"),
        h("div", { class: "value", id: "clock-now" }, time(clock.now))),
      h("p", { class: "muted" }, clock.offset_seconds
        ? "Moved " + Math.round(clock.offset_seconds / 60) + " min from wall time." : "On wall time."));
    fill(this.limits,
      h("p", {}, "Smartcar's rate limits are ", badge(limits.enabled ? "on" : "off", limits.enabled ? "warn" : "")),
      h("p", { class: "muted" }, "Per app " + limits.app_capacity + " requests, " + limits.app_refill_per_minute
        + " back a minute; per vehicle " + limits.vehicle_capacity + " every " + limits.vehicle_refill_seconds + " s."),
      h("button", { id: "limits-toggle", onclick: () => act(() => api("PUT", "/admin/limits", { enabled: !limits.enabled })) },
        limits.enabled ? "Switch limits off" : "Switch limits on"));
    const chosen = this.appSelect.value;
    fill(this.appSelect, apps.apps.map((app) => h("option", { value: app.clientId, selected: app.clientId === chosen }, app.name + " (" + app.clientId + ")")));
    const names = new Map(simulated.vehicles.map((v) => [v.vehicleId, v]));
    const list = vehicles.vehicles;
    fill(this.apps, apps.apps.map((app) => {
      const mine = list.filter((vehicle) => vehicle.app === app.clientId);
      const users = new Set(mine.map((vehicle) => vehicle.user));
      return h("section", { class: "panel", "data-app": app.clientId },
        h("h2", {}, app.name + " ", h("span", { class: "muted mono" }, app.clientId)),
        h("p", { class: "muted" }, users.size + " user(s), " + mine.length + " vehicle(s), " + app.webhooks.length + " webhook(s)"),
        mine.length ? h("table", { class: "vehicles" },
          h("thead", {}, h("tr", {}, ["Vehicle", "User", "Mode", "Energy", "Charge", "Motion", "Trip"].map((t) => h("th", {}, t)))),
          h("tbody", {}, mine.map((vehicle) => {
            const sim = names.get(vehicle.id);
            const state = vehicle.state || {};
            const energy = state.battery ? percent(state.battery.percentRemaining) + " battery"
              : state.fuel ? percent(state.fuel.percentRemaining) + " fuel" : "—";
            return h("tr", { "data-vehicle-id": vehicle.id },
              h("td", {}, h("a", { href: vehicleHref(vehicle.id) }, (sim && sim.name) || [vehicle.make, vehicle.model, vehicle.year].join(" ")),
                h("div", { class: "muted mono" }, vehicle.vin)),
              h("td", { class: "mono" }, String(vehicle.user).slice(0, 8)),
              h("td", {}, vehicle.mode),
              h("td", {}, energy),
              h("td", {}, state.charge ? (state.charge.isPluggedIn ? "plugged, " : "unplugged, ") + state.charge.state : "—"),
              h("td", {}, state.asleep ? badge("asleep", "warn") : state.motion || "—"),
              h("td", {}, sim && sim.trip ? sim.trip.profile + " · " + sim.trip.phase : "—"));
          })))
          : h("p", { class: "muted" }, "No vehicle connected yet: connect one through Connect or create a simulated one."));
    }));
  },

  onVehicle() { refreshSoon(); },
  onRequest(record) { if (/\/oauth\/token|\/connect|\/authorize/.test(record.path)) refreshSoon(); },
};

/* ---------- one vehicle ---------- */

const vehicle = {
  init() {
    const id = page.vehicle;
    const path = "/admin/vehicles/" + encodeURIComponent(id);
    this.id = id;
    this.title = h("h1", {}, "Vehicle");
    this.identity = h("div", {});
    this.state = h("div", { id: "vehicle-state" });
    this.map = h("div", { id: "vehicle-route" });
    this.requests = h("div", {});
    this.deliveries = h("div", {});
    const patch = (body) => act(() => api("PATCH", path, body));
    const battery = h("input", { id: "battery-percent", type: "number", min: 0, max: 100, step: 1, value: 50, size: 4 });
    const profile = h("select", { id: "trip-profile" }, PROFILES.map((p) => h("option", {}, p)));
    this.route = h("select", { id: "trip-route" });
    const stopTrip = () => api("DELETE", path + "/trip").catch((error) => { if (error.status !== 404) throw error; });
    fill(main,
      this.title,
      h("section", { class: "panel", "aria-labelledby": "state-title" }, h("h2", { id: "state-title" }, "Live state"), this.state),
      h("div", { class: "grid wide-first" },
        h("section", { class: "panel", "aria-labelledby": "route-title" }, h("h2", { id: "route-title" }, "Where it is"), this.map),
        h("section", { class: "panel", "aria-labelledby": "controls-title" },
          h("h2", { id: "controls-title" }, "Controls"),
          h("div", { class: "row" },
            h("button", { id: "plug-in", onclick: () => patch({ charge: { isPluggedIn: true } }) }, "Plug in"),
            h("button", { id: "unplug", class: "secondary", onclick: () => act(async () => {
              await stopTrip();
              await api("PATCH", path, { charge: { isPluggedIn: false, state: "NOT_CHARGING" } });
            }) }, "Unplug")),
          h("div", { class: "row" },
            h("button", { id: "start-charge", onclick: () => act(() => api("POST", path + "/trip", { profile: "charging" })) }, "Start charge"),
            h("button", { id: "stop-charge", class: "secondary", onclick: () => act(async () => {
              await stopTrip();
              await api("PATCH", path, { charge: { state: "NOT_CHARGING" } });
            }) }, "Stop charge")),
          h("div", { class: "row" },
            h("button", { id: "lock", onclick: () => patch({ security: { isLocked: true } }) }, "Lock"),
            h("button", { id: "unlock", class: "secondary", onclick: () => patch({ security: { isLocked: false } }) }, "Unlock"),
            h("button", { id: "sleep", onclick: () => patch({ asleep: true }) }, "Sleep"),
            h("button", { id: "wake", class: "secondary", onclick: () => patch({ asleep: false }) }, "Wake")),
          h("div", { class: "row" },
            field("Battery or fuel, %", battery),
            h("button", { id: "set-battery", onclick: () => {
              const fraction = Math.min(100, Math.max(0, Number(battery.value) || 0)) / 100;
              const key = this.current && !this.current.state.battery && this.current.state.fuel ? "fuel" : "battery";
              patch({ [key]: { percentRemaining: fraction } });
            } }, "Set")),
          h("div", { class: "row" },
            field("Trip profile", profile), field("Route", this.route),
            h("button", { id: "start-trip", onclick: () => act(() => {
              const body = { profile: profile.value };
              if (profile.value === "driving" || profile.value === "commute") body.route = this.route.value;
              return api("POST", path + "/trip", body);
            }) }, "Start trip"),
            h("button", { id: "stop-trip", class: "danger", onclick: () => act(stopTrip) }, "Stop trip"))),
        h("section", { class: "panel", "aria-labelledby": "identity-title" }, h("h2", { id: "identity-title" }, "Identity"), this.identity)),
      h("section", { class: "panel", "aria-labelledby": "requests-title" }, h("h2", { id: "requests-title" }, "Recent requests"), this.requests),
      h("section", { class: "panel", "aria-labelledby": "deliveries-title" }, h("h2", { id: "deliveries-title" }, "Webhook deliveries"), this.deliveries));
    get("/admin/simulator/routes").then((routes) => {
      fill(this.route, routes.routes.map((route) => h("option", { value: route.name },
        route.name + " (" + route.lengthKm + " km, " + route.durationMinutes + " min)")));
    }).catch((error) => toast(error.message));
  },

  async refresh() {
    const path = "/admin/vehicles/" + encodeURIComponent(this.id);
    const [car, trip, requests, webhooks] = await Promise.all([
      get(path),
      get(path + "/trip").catch(() => null),
      get("/admin/requests?limit=25&vehicle=" + encodeURIComponent(this.id)).catch(() => ({ requests: [] })),
      get("/dashboard/data/webhooks?vehicle=" + encodeURIComponent(this.id)),
    ]);
    this.current = car;
    const name = (trip && trip.name) || [car.make, car.model, car.year].join(" ");
    fill(this.title, name);
    document.title = name + " · Smartcar mock";
    fill(this.identity, h("dl", { class: "facts" },
      h("dt", {}, "Vehicle id"), h("dd", { class: "mono" }, car.id),
      h("dt", {}, "VIN"), h("dd", { class: "mono" }, car.vin),
      h("dt", {}, "Make, model"), h("dd", {}, car.make + " " + car.model + " " + car.year),
      h("dt", {}, "Powertrain"), h("dd", {}, car.powertrain),
      h("dt", {}, "App"), h("dd", { class: "mono" }, car.app),
      h("dt", {}, "User"), h("dd", { class: "mono" }, car.user),
      h("dt", {}, "Mode"), h("dd", {}, car.mode),
      h("dt", {}, "Capabilities"), h("dd", {}, h("div", { class: "chips" },
        (car.capabilities || []).map((c) => h("span", { class: "chip" }, typeof c === "string" ? c : JSON.stringify(c)))))));
    const state = car.state || {};
    const stat = (label, value, id, meter) => h("div", { class: "stat", id },
      h("div", { class: "label" }, label), h("div", { class: "value" }, value),
      typeof meter === "number" ? h("div", { class: "meter", "aria-hidden": "true" }, meterBar(meter)) : null);
    fill(this.state, h("div", { class: "stats" },
      state.battery ? stat("Battery", percent(state.battery.percentRemaining), "stat-battery", state.battery.percentRemaining) : null,
      state.battery ? stat("Electric range", km(state.battery.range), "stat-range") : null,
      state.fuel ? stat("Fuel", percent(state.fuel.percentRemaining), "stat-fuel", state.fuel.percentRemaining) : null,
      state.fuel ? stat("Fuel range", km(state.fuel.range), "stat-fuel-range") : null,
      state.charge ? stat("Charge", words(state.charge.state), "stat-charge") : null,
      state.charge ? stat("Plugged in", state.charge.isPluggedIn ? "yes" : "no", "stat-plugged") : null,
      state.security ? stat("Locks", state.security.isLocked ? "locked" : "unlocked", "stat-locks") : null,
      state.odometer ? stat("Odometer", km(state.odometer.distance), "stat-odometer") : null,
      stat("Motion", state.motion || "—", "stat-motion"),
      stat("Asleep", state.asleep ? "yes" : "no", "stat-asleep"),
      trip && trip.trip ? stat("Trip: " + trip.trip.profile, trip.trip.ended ? "ended" : trip.trip.phase, "stat-trip") : null));
    fill(this.map, routePicture(state.location, trip && trip.trip && trip.trip.route));
    fill(this.requests, requests.requests.length
      ? requestsTable(requests.requests, "vehicle-requests") : h("p", { class: "muted" }, "No request for this vehicle yet."));
    fill(this.deliveries, deliveriesTable(webhooks.webhooks, "vehicle-deliveries"));
  },

  onVehicle(id) { if (id === this.id) refreshSoon(); },
  onRequest(record) { if (record.vehicle === this.id) refreshSoon(); },
  onWebhook() { refreshSoon(); },
};

function meterBar(fraction) {
  const bar = h("div", {});
  bar.style.width = Math.max(0, Math.min(1, fraction)) * 100 + "%";
  return bar;
}

/** The route as an inline SVG: waypoints projected flat around their middle, the car on it. */
function routePicture(location, route) {
  const points = route && route.waypoints ? route.waypoints.slice() : [];
  if (!location && !points.length) return h("p", { class: "muted" }, "This vehicle has no location.");
  const all = points.concat(location ? [location] : []);
  const lat0 = all.reduce((sum, p) => sum + p.latitude, 0) / all.length;
  const scaleX = Math.cos(lat0 * Math.PI / 180);
  const xs = all.map((p) => p.longitude * scaleX);
  const ys = all.map((p) => -p.latitude);
  const minX = Math.min(...xs), maxX = Math.max(...xs), minY = Math.min(...ys), maxY = Math.max(...ys);
  const span = Math.max(maxX - minX, maxY - minY, 0.005);
  const W = 800, H = 320, pad = 30;
  const k = Math.min((W - 2 * pad) / span, (H - 2 * pad) / span);
  const cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
  const at = (p) => [W / 2 + (p.longitude * scaleX - cx) * k, H / 2 + (-p.latitude - cy) * k];
  const svg = s("svg", { class: "route", viewBox: "0 0 " + W + " " + H, role: "img", "aria-labelledby": "route-desc" });
  const desc = route
    ? "Route " + route.name + ": " + km(route.travelledKm) + " of " + km(route.lengthKm) + " driven"
    : "Parked, no route";
  svg.append(s("title", { id: "route-desc" }, desc));
  for (let gx = 0; gx <= W; gx += 40) svg.append(s("line", { x1: gx, y1: 0, x2: gx, y2: H, stroke: "#dde3ec", "stroke-width": 1 }));
  for (let gy = 0; gy <= H; gy += 40) svg.append(s("line", { x1: 0, y1: gy, x2: W, y2: gy, stroke: "#dde3ec", "stroke-width": 1 }));
  if (points.length) {
    svg.append(s("polyline", {
      points: points.map((p) => at(p).join(",")).join(" "), fill: "none", stroke: "#64748b",
      "stroke-width": 5, "stroke-linejoin": "round", "stroke-linecap": "round",
    }));
    const done = travelled(points, route.travelledKm || 0);
    if (done.length > 1) {
      svg.append(s("polyline", {
        points: done.map((p) => at(p).join(",")).join(" "), fill: "none", stroke: "#60a5fa",
        "stroke-width": 7, "stroke-linejoin": "round", "stroke-linecap": "round",
      }));
    }
    const [sx, sy] = at(points[0]);
    svg.append(s("circle", { cx: sx, cy: sy, r: 8, fill: "#fff", stroke: "#0f172a", "stroke-width": 3 }));
    const [ex, ey] = at(points[points.length - 1]);
    svg.append(s("rect", { x: ex - 7, y: ey - 7, width: 14, height: 14, fill: "#0f172a" }));
  }
  if (location) {
    const [x, y] = at(location);
    svg.append(s("circle", { id: "car-marker", cx: x, cy: y, r: 13, fill: "#1d4ed8", stroke: "#fff", "stroke-width": 4 }));
  }
  return [svg, h("p", { class: "muted" },
    desc + (location ? " · at " + location.latitude.toFixed(5) + ", " + location.longitude.toFixed(5) : ""))];
}

/** The part of the route within `km` of its start (great-circle legs, as the simulator measures). */
function travelled(points, km) {
  const done = points.length ? [points[0]] : [];
  let left = km;
  for (let i = 1; i < points.length && left > 0; i++) {
    const leg = distanceKm(points[i - 1], points[i]);
    if (leg <= left) {
      done.push(points[i]);
      left -= leg;
    } else {
      const f = leg > 0 ? left / leg : 0;
      done.push({
        latitude: points[i - 1].latitude + (points[i].latitude - points[i - 1].latitude) * f,
        longitude: points[i - 1].longitude + (points[i].longitude - points[i - 1].longitude) * f,
      });
      left = 0;
    }
  }
  return done;
}

function distanceKm(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/* ---------- requests ---------- */

const requests = {
  init() {
    const params = new URLSearchParams(location.search);
    this.app = h("select", { id: "filter-app" }, h("option", { value: "" }, "any app"));
    this.wantedApp = params.get("app") || "";
    this.vehicle = h("input", { id: "filter-vehicle", placeholder: "vehicle id", size: 36, value: params.get("vehicle") || "" });
    this.status = h("input", { id: "filter-status", placeholder: "4xx, 429", size: 8, value: params.get("status") || "" });
    this.path = h("input", { id: "filter-path", placeholder: "*/charge", size: 18, value: params.get("path") || "" });
    this.table = h("div", { id: "request-list" });
    const apply = (event) => { event.preventDefault(); this.remember(); refreshSoon(); };
    fill(main,
      h("h1", {}, "Requests"),
      h("form", { class: "panel", onsubmit: apply, "aria-label": "Filters" },
        h("div", { class: "row" },
          field("App", this.app), field("Vehicle", this.vehicle), field("Status", this.status), field("Path", this.path),
          h("button", { type: "submit" }, "Filter"),
          h("button", { type: "button", class: "danger", onclick: () => act(() => api("DELETE", "/admin/requests")) }, "Clear journal"))),
      h("section", { class: "panel", "aria-live": "off" }, this.table));
    get("/dashboard/data/apps").then((apps) => append(this.app, apps.apps.map((app) =>
      h("option", { value: app.clientId, selected: app.clientId === this.wantedApp }, app.name)))).catch(() => {});
  },

  query() {
    const query = new URLSearchParams({ limit: String(MAX_ROWS) });
    const app = this.app.value || this.wantedApp;
    if (app) query.set("app", app);
    for (const [key, input] of [["vehicle", this.vehicle], ["status", this.status], ["path", this.path]]) {
      if (input.value.trim()) query.set(key, input.value.trim());
    }
    return query;
  },

  remember() {
    this.wantedApp = this.app.value;
    const query = this.query();
    query.delete("limit");
    history.replaceState(null, "", location.pathname + (query.toString() ? "?" + query : ""));
  },

  filtered() {
    return Boolean(this.app.value || this.wantedApp || this.vehicle.value.trim() || this.status.value.trim() || this.path.value.trim());
  },

  async refresh() {
    const answer = await get("/admin/requests?" + this.query());
    fill(this.table, answer.requests.length ? requestsTable(answer.requests, "requests") : h("p", { id: "requests", class: "muted" }, "No request yet."));
  },

  onRequest(record) {
    const body = this.table.querySelector("#requests tbody");
    // Filters are the server's (globs, status classes): ask it again rather than guess.
    if (this.filtered() || !body) { refreshSoon(); return; }
    body.prepend(requestRow(record, true));
    while (body.rows.length > MAX_ROWS) body.deleteRow(-1);
  },
};

/* ---------- faults ---------- */

const PRESETS = [
  { label: "Asleep for the next 3 reads", spec: { error: "VEHICLE_STATE:ASLEEP", method: "GET", path: "/v*/vehicles/*/**", times: 3 } },
  { label: "Vehicle rate limit (429, retry after 30 s)", spec: { error: "RATE_LIMIT:VEHICLE", retry_after: 30, times: 5 } },
  { label: "Upstream error, half the time (seed 7)", spec: { error: "UPSTREAM:KNOWN_ISSUE", probability: 0.5, seed: 7 } },
  { label: "2 s latency on every request", spec: { latency: "2s" } },
];

const faults = {
  init() {
    const inputs = {
      error: h("input", { id: "fault-error", placeholder: "VEHICLE_STATE:ASLEEP", size: 22 }),
      method: h("input", { id: "fault-method", placeholder: "GET", size: 6 }),
      path: h("input", { id: "fault-path", placeholder: "*/charge", size: 16 }),
      vehicle: h("input", { id: "fault-vehicle", placeholder: "vehicle id", size: 36 }),
      app: h("input", { id: "fault-app", placeholder: "client id", size: 14 }),
      times: h("input", { id: "fault-times", type: "number", min: 1, size: 4 }),
      probability: h("input", { id: "fault-probability", type: "number", min: 0, max: 1, step: 0.05, size: 4 }),
      seed: h("input", { id: "fault-seed", type: "number", min: 0, size: 6 }),
      latency: h("input", { id: "fault-latency", placeholder: "500ms..3s", size: 10 }),
      retry_after: h("input", { id: "fault-retry-after", type: "number", min: 0, size: 4 }),
    };
    const drop = h("input", { id: "fault-drop", type: "checkbox" });
    const presetVehicle = h("input", { id: "preset-vehicle", placeholder: "any vehicle", size: 36 });
    this.list = h("div", { id: "fault-list" });
    const add = (spec) => act(() => api("POST", "/admin/faults", spec));
    fill(main,
      h("h1", {}, "Faults"),
      h("div", { class: "grid" },
        h("section", { class: "panel", "aria-labelledby": "presets-title" },
          h("h2", { id: "presets-title" }, "Presets"),
          h("div", { class: "row" }, field("Only for vehicle (optional)", presetVehicle)),
          PRESETS.map((preset, index) => h("div", { class: "row" }, h("button", {
            class: "secondary", "data-preset": index,
            onclick: () => add(Object.assign({}, preset.spec, presetVehicle.value.trim() ? { vehicle: presetVehicle.value.trim() } : {})),
          }, preset.label)))),
        h("form", { class: "panel", "aria-labelledby": "form-title", onsubmit: (event) => {
          event.preventDefault();
          const spec = {};
          for (const [key, input] of Object.entries(inputs)) {
            const text = input.value.trim();
            if (!text) continue;
            spec[key] = input.type === "number" ? Number(text) : text;
          }
          if (drop.checked) spec.drop = true;
          add(spec);
        } },
          h("h2", { id: "form-title" }, "A rule of your own"),
          h("div", { class: "row" }, Object.entries(inputs).map(([key, input]) => field(key.replace("_", " "), input)),
            h("label", {}, "drop connection", drop)),
          h("div", { class: "row" }, h("button", { type: "submit", id: "add-fault" }, "Add rule")))),
      h("section", { class: "panel", "aria-labelledby": "rules-title" },
        h("h2", { id: "rules-title" }, "Rules, in the order they are tried"),
        this.list,
        h("div", { class: "row" }, h("button", { class: "danger", onclick: () => act(() => api("DELETE", "/admin/faults")) }, "Remove every rule"))));
  },

  async refresh() {
    const book = await get("/admin/faults");
    const rules = book.rules.concat(book.connect.map((rule) => Object.assign({ connect: true }, rule)));
    if (!rules.length) { fill(this.list, h("p", { class: "muted" }, "No fault rule.")); return; }
    fill(this.list, h("table", { id: "faults" },
      h("thead", {}, h("tr", {}, ["Id", "Matches", "Does", "Fired", "Left", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, rules.map((rule) => h("tr", { "data-rule": rule.id },
        h("td", {}, String(rule.id)),
        h("td", { class: "mono" }, rule.connect ? "Connect " + rule.app + (rule.email ? " " + rule.email : "")
          : ["app", "vehicle", "user", "method", "path"].filter((k) => rule[k]).map((k) => k + "=" + rule[k]).join(" ") || "every request"),
        h("td", {}, [
          rule.error ? (rule.error.type ? rule.error.type + ":" + (rule.error.code || "") : JSON.stringify(rule.error)) : null,
          rule.latency ? "latency " + rule.latency : null,
          rule.drop ? "drop" : null,
          typeof rule.probability === "number" ? "p=" + rule.probability + " seed " + rule.seed : null,
        ].filter(Boolean).join(", ")),
        h("td", { class: "num" }, String(rule.fired)),
        h("td", { class: "num" }, rule.remaining === null || rule.remaining === undefined ? "∞" : String(rule.remaining)),
        h("td", {}, h("button", { class: "danger", "aria-label": "Remove rule " + rule.id,
          onclick: () => act(() => api("DELETE", "/admin/faults/" + rule.id)) }, "Remove")))))));
  },

  onRequest(record) { if (record.fault) refreshSoon(); },
};

/* ---------- webhooks ---------- */

const webhooks = {
  init() {
    this.list = h("div", { id: "webhook-list" });
    fill(main, h("h1", {}, "Webhooks"), this.list);
  },

  async refresh() {
    const answer = await get("/dashboard/data/webhooks");
    if (!answer.webhooks.length) { fill(this.list, h("p", { class: "panel muted" }, "The fixtures declare no webhook.")); return; }
    // The busiest first: a workshop watches the one its car is subscribed to.
    const logs = answer.webhooks.slice().sort((a, b) =>
      b.subscribedVehicles.length - a.subscribedVehicles.length || b.deliveries.length - a.deliveries.length
      || String(a.name).localeCompare(String(b.name)));
    fill(this.list, logs.map((log) => h("section", { class: "panel", "data-webhook": log.webhookId },
      h("h2", {}, log.name + " ",
        log.verified === true ? badge("verified", "ok") : log.verified === false ? badge("VERIFY failed", "bad") : badge("not verified yet")),
      h("dl", { class: "facts" },
        h("dt", {}, "Id"), h("dd", { class: "mono" }, log.webhookId),
        h("dt", {}, "Callback URL"), h("dd", { class: "mono" }, log.callbackUrl),
        h("dt", {}, "Payload version"), h("dd", {}, log.version),
        h("dt", {}, "Subscribed vehicles"), h("dd", {}, log.subscribedVehicles.length
          ? log.subscribedVehicles.map((id) => h("div", {}, h("a", { href: vehicleHref(id), class: "mono" }, id))) : "none")),
      h("h3", {}, "Deliveries, newest first"),
      deliveriesTable([log], "deliveries-" + log.webhookId))));
  },

  onWebhook() { refreshSoon(); },
};

const views = { overview, vehicle, requests, faults, webhooks };

for (const link of document.querySelectorAll("[data-nav]")) {
  if (link.dataset.nav === page.name) link.setAttribute("aria-current", "page");
}
if (views[page.name]) {
  views[page.name].init();
  listen();
  refreshSoon();
} else {
  fill(main, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "/dashboard" }, "Back to the overview")));
}
