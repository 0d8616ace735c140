// The Stint dashboard: a page over the admin API, signed in with the admin token.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "stint-admin-token";
let refreshTimer = null;

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function request(path) {
  const res = await fetch(path, { headers: { Authorization: "Bearer " + token() } });
  if (res.status === 401) { signOut("The admin token was refused."); throw new Error("unauthorized"); }
  return res;
}

async function api(path) {
  const res = await request(path);
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
// A table, or one line saying there is nothing to show.
function table(node, headers, rows, onClick, empty) {
  if (rows.length === 0) {
    node.replaceChildren(el("caption", { class: "empty" }, empty || "Nothing in this range yet."));
    return;
  }
  node.replaceChildren(
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((r, i) => {
      const tr = el("tr", onClick ? { class: "clickable", tabindex: "0" } : {}, ...r.map((c) => el("td", {}, c)));
      if (onClick) {
        tr.addEventListener("click", () => onClick(i));
        tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter") onClick(i); });
      }
      return tr;
    })),
  );
}
const valueOf = (v) => (v === null ? "(none)" : v);

const FIGURES = [
  ["visitors", "Visitors", text], ["sessions", "Sessions", text], ["pageViews", "Page views", text],
  ["bounceRate", "Bounce rate", pct], ["avgSessionSeconds", "Avg. seconds", (v) => v.toFixed(1)],
  ["logins", "Logins", text], ["conversions", "Conversions", text],
  ["conversionRate", "Conversion rate", pct], ["revenue", "Revenue", money],
];
// A rate or an average of no sessions is not 0: it is not there.
const RATIOS = new Set(["bounceRate", "avgSessionSeconds", "conversionRate"]);
const figureCells = (r) => FIGURES.map(([k, , f]) => (r.sessions === 0 && RATIOS.has(k) ? "–" : f(r[k])));

function isoDay(d) { return d.toISOString().slice(0, 10); }
function range() { return "from=" + $("from").value + "&to=" + $("to").value; }

// The route behind each table, for its CSV download.
const CSV = {
  realtime: () => ["realtime?minutes=" + $("rt-minutes").value, "stint-realtime.csv"],
  daily: () => ["daily?" + range(), "stint-daily-" + $("from").value + "-" + $("to").value + ".csv"],
  attribution: () => ["attribution?" + range() + "&model=" + $("attr-model").value + "&dimension=" + $("attr-dimension").value,
    "stint-attribution-" + $("attr-model").value + "-" + $("attr-dimension").value + ".csv"],
  funnel: () => ["funnel?" + range() + ($("funnel-dimension").value ? "&dimension=" + $("funnel-dimension").value : ""), "stint-funnel.csv"],
  countries: () => ["breakdown?dimension=country&" + range(), "stint-countries.csv"],
  breakdown: () => ["breakdown?dimension=" + $("dimension").value + "&" + range(), "stint-" + $("dimension").value + ".csv"],
};

// The admin API needs the token in a header, which a plain link cannot
// send: the CSV is fetched, then saved from memory.
async function downloadCsv(which) {
  const [route, name] = CSV[which]();
  const res = await request("/api/admin/analytics/" + route + "&format=csv");
  if (!res.ok) throw new Error("HTTP " + res.status);
  const url = URL.createObjectURL(await res.blob());
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function loadRealtime() {
  const minutes = $("rt-minutes").value;
  const rt = await api("/api/admin/analytics/realtime?minutes=" + minutes);
  $("rt-visitors").textContent = rt.activeVisitors;
  $("rt-sessions").textContent = rt.activeSessions;
  $("rt-customers").textContent = rt.activeCustomers;
  table($("top-pages"), ["Page", "Page views"], rt.topPages.map((p) => [p.page, p.pageViews]), null,
    "No page views in the last " + minutes + " minutes.");
  $("status").textContent = "updated " + new Date().toLocaleTimeString();
}

async function loadToday() {
  const today = isoDay(new Date());
  const [row] = await api("/api/admin/analytics/daily?from=" + today + "&to=" + today);
  // No visitor yet: rates of nothing are not 0.0%, so no tiles at all.
  const none = row.sessions === 0;
  $("today-empty").hidden = !none;
  $("today").hidden = none;
  $("today").replaceChildren(...FIGURES.map(([k, label, f]) =>
    el("div", { class: "tile" }, el("span", { class: "label" }, label),
      el("span", { class: "value", id: "today-" + k }, f(row[k])))));
}

function drawChart(rows) {
  const series = [["visitors", "#2563eb", "Visitors"], ["sessions", "#10b981", "Sessions"], ["conversions", "#f59e0b", "Conversions"]];
  const max = Math.max(1, ...rows.flatMap((r) => series.map(([k]) => r[k])));
  // Drawn at the width it is shown at: no scaling, so no empty margins and no stretched text.
  const w = Math.max(280, Math.round($("chart").clientWidth || 600)), h = 180, n = Math.max(rows.length, 1);
  const slot = w / n, bar = Math.max(1, (slot - 4) / series.length);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h + 18}`);
  svg.setAttribute("width", w);
  svg.setAttribute("height", h + 18);
  const every = Math.ceil(n / Math.max(1, Math.floor(w / 48)));
  rows.forEach((r, i) => {
    series.forEach(([k, color], j) => {
      const rect = document.createElementNS(ns, "rect");
      const bh = (r[k] / max) * (h - 6);
      rect.setAttribute("x", i * slot + j * bar + 2);
      rect.setAttribute("y", h - bh);
      rect.setAttribute("width", Math.max(1, bar - 1));
      rect.setAttribute("height", bh);
      rect.setAttribute("fill", color);
      const title = document.createElementNS(ns, "title");
      title.textContent = `${r.date} ${k}: ${r[k]}`;
      rect.append(title);
      svg.append(rect);
    });
    if (i % every === 0) {
      const t = document.createElementNS(ns, "text");
      t.setAttribute("x", i * slot + 2);
      t.setAttribute("y", h + 14);
      t.setAttribute("font-size", "11");
      t.setAttribute("fill", "#6b7280");
      t.textContent = r.date.slice(5);
      svg.append(t);
    }
  });
  const legend = el("div", { class: "legend" }, ...series.map(([, c, l]) => {
    const s = el("span", {}, l); const i = el("i", { style: "background:" + c }); s.prepend(i); return s;
  }), el("span", { class: "peak" }, "highest bar: " + max));
  $("chart").replaceChildren(svg, legend);
}

async function loadDays() {
  const rows = await api("/api/admin/analytics/daily?" + range());
  drawChart(rows);
  const any = rows.some((r) => r.sessions > 0);
  table($("daily"), ["Date", ...FIGURES.map(([, l]) => l)], any ? rows.map((r) => [r.date, ...figureCells(r)]) : [],
    null, "No visitors in this range yet.");
}

async function loadAttribution() {
  const rows = await api("/api/admin/analytics/attribution?" + range() + "&model=" + $("attr-model").value
    + "&dimension=" + $("attr-dimension").value);
  table($("attribution"), ["Source", "Visitors", "Orders", "Revenue", "Avg. order"],
    rows.map((r) => [valueOf(r.value), r.visitors, r.orders, money(r.revenue), money(r.averageOrderValue)]),
    null, "No orders in this range yet.");
}

function funnelBar(s, top) {
  return el("div", { class: "bar", style: "width:" + Math.round((s.sessions / Math.max(1, top)) * 100) + "%" });
}

async function loadFunnel() {
  const dimension = $("funnel-dimension").value;
  const data = await api("/api/admin/analytics/funnel?" + range() + (dimension ? "&dimension=" + dimension : ""));
  if (!dimension) {
    const top = data[0] ? data[0].sessions : 0;
    table($("funnel"), ["Step", "Sessions", "Drop-off", ""], top === 0 ? [] : data.map((s) => [
      s.step, s.sessions, pct(s.dropOff), funnelBar(s, top),
    ]));
    return;
  }
  // One row per value, one column per step: sessions and the drop-off from the step before.
  const steps = data.length ? data[0].steps.map((s) => s.step) : [];
  table($("funnel"), [dimension, ...steps],
    data.map((v) => [valueOf(v.value), ...v.steps.map((s, i) => (i === 0 ? String(s.sessions) : s.sessions + " (−" + pct(s.dropOff) + ")"))]));
}

async function loadCountries() {
  const rows = await api("/api/admin/analytics/breakdown?dimension=country&" + range() + "&limit=50");
  table($("countries"), ["Country", "Visitors", "Sessions", "Conversions", "Conversion rate", "Revenue"],
    rows.map((r) => [valueOf(r.value), r.visitors, r.sessions, r.conversions, pct(r.conversionRate), money(r.revenue)]));
}

async function loadBreakdown() {
  const rows = await api("/api/admin/analytics/breakdown?dimension=" + $("dimension").value + "&" + range() + "&limit=50");
  table($("breakdown"), ["Value", ...FIGURES.map(([, l]) => l)], rows.map((r) => [valueOf(r.value), ...figureCells(r)]));
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

function showSessions(sessions, title) {
  $("sessions-title").textContent = title;
  $("timeline").replaceChildren();
  table($("sessions"), ["Session", "Type", "Started", "Page views", "Converted", "Device", "Country", "Landing page"],
    sessions.map((s) => [el("span", { title: s.sessionId }, "…" + s.sessionId.slice(-12)), s.type, s.startedAt.replace("T", " ").slice(0, 19), s.pageViews,
      s.converted ? "yes" : "no", s.device, s.country, s.landingPage]),
    (i) => showTimeline(sessions[i]), "No sessions yet.");
}

async function loadRecent() {
  const page = await api("/api/admin/sessions?limit=20");
  showSessions(page.sessions, "The most recent sessions. Choose one to see its events.");
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
  showSessions(sessions, "Sessions of that " + $("search-kind").selectedOptions[0].textContent + ".");
}

function report(e) {
  if (e.message !== "unauthorized") $("status").textContent = "error: " + e.message;
}

async function loadRange() {
  await Promise.all([loadDays(), loadAttribution(), loadFunnel(), loadCountries(), loadBreakdown()]);
}

async function loadAll() {
  try {
    await Promise.all([loadRealtime(), loadToday(), loadRange(), loadRecent()]);
  } catch (e) {
    report(e);
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
$("range").addEventListener("submit", (ev) => { ev.preventDefault(); loadRange().catch(report); });
$("dimension").addEventListener("change", () => loadBreakdown().catch(report));
$("funnel-dimension").addEventListener("change", () => loadFunnel().catch(report));
$("attr-model").addEventListener("change", () => loadAttribution().catch(report));
$("attr-dimension").addEventListener("change", () => loadAttribution().catch(report));
$("rt-minutes").addEventListener("change", () => loadRealtime().catch(report));
$("search").addEventListener("submit", search);
$("recent").addEventListener("click", () => loadRecent().catch(report));
for (const b of document.querySelectorAll("button.csv")) {
  b.addEventListener("click", () => downloadCsv(b.dataset.csv).catch(report));
}
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if (token()) loadDays().catch(report); }, 200);
});

// A token in the fragment (for bookmarks and automation) signs in and leaves the address bar.
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get("token")) {
  sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
  history.replaceState(null, "", location.pathname);
}
if (token()) start(); else signOut();
