// The Stint dashboard: a page over the admin API, signed in with the admin token.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "stint-admin-token";
let refreshTimer = null;

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(path) {
  const res = await fetch(path, { headers: { Authorization: "Bearer " + token() } });
  if (res.status === 401) { signOut("The admin token was refused."); throw new Error("unauthorized"); }
  const body = await res.json();
  if (!body.success) throw new Error(body.error || ("HTTP " + res.status));
  return body.data;
}

function text(v) { return v === null || v === undefined ? "–" : String(v); }
function pct(v) { return (v * 100).toFixed(1) + "%"; }
function money(v) { return v.toFixed(2); }
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(text(c)));
  return e;
}
function table(node, headers, rows, onClick) {
  node.replaceChildren(
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((r, i) => {
      const tr = el("tr", onClick ? { class: "clickable" } : {}, ...r.map((c) => el("td", {}, c)));
      if (onClick) tr.addEventListener("click", () => onClick(i));
      return tr;
    })),
  );
}

const FIGURES = [
  ["visitors", "Visitors", text], ["sessions", "Sessions", text], ["pageViews", "Page views", text],
  ["bounceRate", "Bounce rate", pct], ["avgSessionSeconds", "Avg. seconds", (v) => v.toFixed(1)],
  ["logins", "Logins", text], ["conversions", "Conversions", text],
  ["conversionRate", "Conversion rate", pct], ["revenue", "Revenue", money],
];
const figureCells = (r) => FIGURES.map(([k, , f]) => f(r[k]));

function isoDay(d) { return d.toISOString().slice(0, 10); }

async function loadRealtime() {
  const rt = await api("/api/admin/analytics/realtime");
  $("rt-visitors").textContent = rt.activeVisitors;
  $("rt-sessions").textContent = rt.activeSessions;
  $("rt-customers").textContent = rt.activeCustomers;
  $("status").textContent = "updated " + new Date().toLocaleTimeString();
}

async function loadToday() {
  const today = isoDay(new Date());
  const [row] = await api("/api/admin/analytics/daily?from=" + today + "&to=" + today);
  $("today").replaceChildren(...FIGURES.map(([k, label, f]) =>
    el("div", { class: "tile" }, el("span", { class: "label" }, label),
      el("span", { class: "value", id: "today-" + k }, f(row[k])))));
}

function drawChart(rows) {
  const series = [["visitors", "#2563eb", "Visitors"], ["sessions", "#10b981", "Sessions"], ["conversions", "#f59e0b", "Conversions"]];
  const max = Math.max(1, ...rows.flatMap((r) => series.map(([k]) => r[k])));
  const w = 600, h = 200, pad = 24, n = Math.max(rows.length, 1);
  const slot = (w - pad) / n, bar = Math.max(1, (slot - 4) / series.length);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h + 20}`);
  rows.forEach((r, i) => {
    series.forEach(([k, color], j) => {
      const rect = document.createElementNS(ns, "rect");
      const bh = (r[k] / max) * (h - 10);
      rect.setAttribute("x", pad + i * slot + j * bar + 2);
      rect.setAttribute("y", h - bh);
      rect.setAttribute("width", bar - 1);
      rect.setAttribute("height", bh);
      rect.setAttribute("fill", color);
      const title = document.createElementNS(ns, "title");
      title.textContent = `${r.date} ${k}: ${r[k]}`;
      rect.append(title);
      svg.append(rect);
    });
    if (n <= 14 || i % Math.ceil(n / 14) === 0) {
      const t = document.createElementNS(ns, "text");
      t.setAttribute("x", pad + i * slot + 2);
      t.setAttribute("y", h + 14);
      t.setAttribute("font-size", "10");
      t.setAttribute("fill", "#6b7280");
      t.textContent = r.date.slice(5);
      svg.append(t);
    }
  });
  const axis = document.createElementNS(ns, "text");
  axis.setAttribute("x", 0); axis.setAttribute("y", 10); axis.setAttribute("font-size", "10"); axis.setAttribute("fill", "#6b7280");
  axis.textContent = String(max);
  svg.append(axis);
  const legend = el("div", { class: "legend" }, ...series.map(([, c, l]) => {
    const s = el("span", {}, l); const i = el("i", { style: "background:" + c }); s.prepend(i); return s;
  }));
  $("chart").replaceChildren(svg, legend);
}

function range() { return "from=" + $("from").value + "&to=" + $("to").value; }

async function loadDays() {
  const rows = await api("/api/admin/analytics/daily?" + range());
  drawChart(rows);
  table($("daily"), ["Date", ...FIGURES.map(([, l]) => l)], rows.map((r) => [r.date, ...figureCells(r)]));
}

async function loadFunnel() {
  const steps = await api("/api/admin/analytics/funnel?" + range());
  const top = Math.max(1, steps[0] ? steps[0].sessions : 1);
  table($("funnel"), ["Step", "Sessions", "Drop-off", ""], steps.map((s) => [
    s.step, s.sessions, pct(s.dropOff),
    el("div", { class: "bar", style: "width:" + Math.round((s.sessions / top) * 100) + "%" }),
  ]));
}

async function loadBreakdown() {
  const rows = await api("/api/admin/analytics/breakdown?dimension=" + $("dimension").value + "&" + range() + "&limit=50");
  table($("breakdown"), ["Value", ...FIGURES.map(([, l]) => l)], rows.map((r) => [r.value === null ? "(none)" : r.value, ...figureCells(r)]));
}

async function showTimeline(session) {
  const data = await api("/api/admin/sessions/" + encodeURIComponent(session.sessionId) + "/events");
  $("timeline").replaceChildren(
    el("h3", {}, "Session " + session.sessionId),
    el("ol", {}, ...data.events.map((e) => el("li", {},
      e.at.slice(11, 19) + "  " + e.type + (e.page ? "  " + e.page : "") + (e.productId ? "  " + e.productId : ""),
    ))),
  );
}

async function search(ev) {
  ev.preventDefault();
  const kind = $("search-kind").value, value = $("search-value").value.trim();
  let sessions;
  try {
    if (kind === "sessionId") sessions = [await api("/api/admin/sessions/" + encodeURIComponent(value))];
    else sessions = (await api("/api/admin/sessions?limit=100&" + kind + "=" + encodeURIComponent(value))).sessions;
  } catch (e) {
    if (e.message !== "unauthorized") $("sessions").replaceChildren(el("caption", { class: "error" }, e.message));
    return;
  }
  $("timeline").replaceChildren();
  table($("sessions"), ["Session", "Type", "Started", "Page views", "Converted", "Device", "Landing page"],
    sessions.map((s) => [s.sessionId, s.type, s.startedAt.replace("T", " ").slice(0, 19), s.pageViews, s.converted ? "yes" : "no", s.device, s.landingPage]),
    (i) => showTimeline(sessions[i]));
}

async function loadAll() {
  try {
    await Promise.all([loadRealtime(), loadToday(), loadDays(), loadFunnel(), loadBreakdown()]);
  } catch (e) {
    if (e.message !== "unauthorized") $("status").textContent = "error: " + e.message;
  }
}

function start() {
  $("signin").hidden = true; $("app").hidden = false; $("signout").hidden = false;
  const to = new Date(), from = new Date(Date.now() - 6 * 86400000);
  $("from").value = isoDay(from); $("to").value = isoDay(to);
  loadAll();
  clearInterval(refreshTimer);
  refreshTimer = setInterval(() => { loadRealtime().catch(() => {}); loadToday().catch(() => {}); }, 5000);
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(refreshTimer);
  $("app").hidden = true; $("signout").hidden = true; $("signin").hidden = false;
  const err = $("signin-error");
  err.hidden = !message; err.textContent = message || "";
}

$("signin-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value);
  $("token").value = "";
  start();
});
$("signout").addEventListener("click", () => signOut());
$("range").addEventListener("submit", (ev) => { ev.preventDefault(); loadDays().then(loadFunnel).then(loadBreakdown).catch(() => {}); });
$("dimension").addEventListener("change", () => loadBreakdown().catch(() => {}));
$("search").addEventListener("submit", search);

// A token in the fragment (for bookmarks and automation) signs in and leaves the address bar.
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get("token")) {
  sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
  history.replaceState(null, "", location.pathname);
}
if (token()) start(); else signOut();
