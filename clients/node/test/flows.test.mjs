// The documents' four flows (first visit, resume, login, order) on an Express app wired with
// the package, against the real binary; and the package's other methods.
import assert from "node:assert/strict";
import { test } from "node:test";

import express from "express";
import { stint } from "stint-express";

import { Browser, SERVICE_KEY, setCookieFor, withShop } from "./support.mjs";

// Customer ids are new on every run: the PostgreSQL and Redis passes share their stores.
const run = Date.now().toString(36);

const ctx = withShop({ trustProxy: true });

const today = () => new Date().toISOString().slice(0, 10);

async function revenueToday() {
  const rows = await ctx.stint.admin(`/api/admin/analytics/daily?from=${today()}&to=${today()}`);
  return rows.at(-1) ?? { revenue: 0, conversions: 0 };
}

test("Stint runs on the stores the test command named", async () => {
  const stats = await ctx.stint.admin("/api/admin/stats");
  const redis = Boolean(process.env.STINT_NODE_TEST_REDIS_URL);
  const postgres = Boolean(process.env.STINT_NODE_TEST_DATABASE_URL);
  assert.equal(stats.hot.kind === "redis", redis, JSON.stringify(stats.hot));
  assert.equal(stats.cold.kind, postgres ? "postgres" : "sqlite");
});

test("first visit, resume, login, order", async () => {
  const browser = new Browser({ "x-forwarded-for": "203.0.113.9" });

  // First visit: a new anonymous session, both cookies set, the page view counted.
  const first = await browser.get(`${ctx.shop.url}/products?utm_source=news`);
  assert.equal(first.status, 200);
  const sessionCookie = setCookieFor(first, "session");
  assert.match(sessionCookie ?? "", /HttpOnly/i, "the session cookie is set, HttpOnly");
  assert.ok(setCookieFor(first, "visitor_id"), "the visitor cookie is set");
  const s1 = first.json.session;
  assert.equal(first.json.degraded, false);
  assert.equal(first.json.created, true);
  assert.equal(s1.type, "ANONYMOUS");
  assert.equal(s1.pageViews, 1);
  assert.equal(s1.utmSource, "news");
  assert.equal(s1.landingPage, "/products?utm_source=news");
  assert.equal(s1.ipAddress, "203.0.113.0", "Express's req.ip (trust proxy) reached Stint, anonymised");
  assert.equal(first.json.sessionId, s1.sessionId);
  assert.equal(first.json.visitorId, s1.visitorId);
  const token = browser.cookies.get("session");

  // Resume: the same session, one more page view, no new session cookie.
  const second = await browser.get(`${ctx.shop.url}/products/p-1`);
  assert.equal(second.json.sessionId, s1.sessionId);
  assert.equal(second.json.session.pageViews, 2);
  assert.equal(second.json.created, false);
  assert.equal(setCookieFor(second, "session"), undefined);

  // Login: the same session id, a customer's now, with a new token.
  const login = await browser.post(`${ctx.shop.url}/login`, { customerId: `c-42-${run}` });
  assert.equal(login.status, 200, login.text);
  assert.equal(login.json.session.sessionId, s1.sessionId);
  assert.equal(login.json.session.type, "CUSTOMER");
  assert.equal(login.json.session.customerId, `c-42-${run}`);
  assert.notEqual(browser.cookies.get("session"), token, "the token is rotated at login");
  const signedIn = await browser.get(`${ctx.shop.url}/products`);
  assert.equal(signedIn.json.sessionId, s1.sessionId);
  assert.equal(signedIn.json.customerId, `c-42-${run}`);

  // Order: the session converted, the revenue in today's figures.
  const before = await revenueToday();
  const order = await browser.post(`${ctx.shop.url}/orders`, { orderId: `o-${Date.now()}`, total: 129.5 });
  assert.equal(order.status, 201);
  assert.equal(order.json.session.converted, true);
  assert.equal(order.json.session.orderId, order.json.order.orderId);
  const figures = await revenueToday();
  assert.ok(figures.revenue >= before.revenue + 129.5 - 1e-9, `revenue ${before.revenue} -> ${figures.revenue}`);
  assert.ok(figures.conversions >= before.conversions + 1);

  // Stint's own record agrees.
  const stored = await ctx.stint.admin(`/api/admin/sessions/${s1.sessionId}`);
  assert.equal(stored.converted, true);
  assert.equal(stored.customerId, `c-42-${run}`);
  assert.equal(stored.pageViews, 3);
  assert.deepEqual(ctx.shop.errors, []);
  assert.deepEqual(ctx.shop.log.warnings, []);
});

test("an old token after login never carries the customer's rights", async () => {
  const browser = new Browser();
  await browser.get(`${ctx.shop.url}/products`);
  const oldToken = browser.cookies.get("session");
  await browser.post(`${ctx.shop.url}/login`, { customerId: `c-7-${run}` });
  const stale = await browser.get(`${ctx.shop.url}/products`, { cookie: `session=${oldToken}` });
  assert.equal(stale.status, 200);
  assert.equal(stale.json.customerId, null);
  assert.equal(setCookieFor(stale, "session"), undefined, "never answered with the new token");
});

test("events, data, logout and signing out other devices", async () => {
  const laptop = new Browser();
  const phone = new Browser({ "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1" });
  await laptop.get(`${ctx.shop.url}/products`);
  await phone.get(`${ctx.shop.url}/products`);
  await laptop.post(`${ctx.shop.url}/login`, { customerId: `c-devices-${run}` });
  await phone.post(`${ctx.shop.url}/login`, { customerId: `c-devices-${run}` });

  const recorded = await laptop.post(`${ctx.shop.url}/events`, { type: "wishlist_add", details: { productId: "p-2", metadata: { from: "grid" } } });
  assert.equal(recorded.status, 201, recorded.text);
  assert.deepEqual(recorded.json, { recorded: true });
  const laptopSession = (await laptop.get(`${ctx.shop.url}/products`)).json.session;
  const { events } = await ctx.stint.admin(`/api/admin/sessions/${laptopSession.sessionId}/events`);
  const wish = events.find((e) => e.type === "wishlist_add");
  assert.equal(wish?.productId, "p-2");
  assert.deepEqual(wish?.metadata, { from: "grid" });

  const cart = await laptop.post(`${ctx.shop.url}/cart`, { set: { items: [{ id: "p-1", qty: 2 }], note: "gift" } });
  assert.deepEqual(cart.json, { items: [{ id: "p-1", qty: 2 }], note: "gift" });
  const trimmed = await laptop.post(`${ctx.shop.url}/cart`, { remove: ["note"] });
  assert.deepEqual(trimmed.json, { items: [{ id: "p-1", qty: 2 }] });
  assert.deepEqual((await laptop.get(`${ctx.shop.url}/cart`)).json, { items: [{ id: "p-1", qty: 2 }] });

  // A type Stint records itself is refused with Stint's message, as a rejected promise.
  const refused = await laptop.post(`${ctx.shop.url}/events`, { type: "order_completed" });
  assert.equal(refused.status, 500);
  assert.match(ctx.shop.errors.pop()?.message ?? "", /recorded by Stint itself/);

  const revoked = await laptop.request(`${ctx.shop.url}/sessions/others`, { method: "DELETE" });
  assert.deepEqual(revoked.json, { revoked: 1 });
  const phoneAfter = await phone.get(`${ctx.shop.url}/products`);
  assert.equal(phoneAfter.json.customerId, null, "the phone is signed out");
  assert.equal((await laptop.get(`${ctx.shop.url}/products`)).json.customerId, `c-devices-${run}`);

  const out = await laptop.post(`${ctx.shop.url}/logout`, {});
  assert.equal(out.status, 200);
  assert.equal(out.json.session, null);
  assert.equal(out.json.sessionId, laptopSession.sessionId, "the id of the ended session stays readable");
  const ended = await ctx.stint.admin(`/api/admin/sessions/${laptopSession.sessionId}`);
  assert.notEqual(ended.endedAt, null);
  const next = await laptop.get(`${ctx.shop.url}/products`);
  assert.notEqual(next.json.sessionId, laptopSession.sessionId, "a new visit after logout is a new session");
  assert.equal(next.json.visitorId, laptopSession.visitorId, "of the same visitor");
  assert.deepEqual(ctx.shop.errors, []);
});

test("a bot gets no session, no cookie, and its methods reject at once", async () => {
  const bot = new Browser({ "user-agent": "Googlebot/2.1 (+http://www.google.com/bot.html)" });
  const page = await bot.get(`${ctx.shop.url}/products`);
  assert.equal(page.status, 200);
  assert.equal(page.json.session, null);
  assert.equal(page.json.bot, true);
  assert.equal(page.json.degraded, false);
  assert.deepEqual(page.setCookie, []);
  const cart = await bot.get(`${ctx.shop.url}/cart`);
  assert.equal(cart.status, 500);
  const error = ctx.shop.errors.pop();
  assert.equal(error?.name, "StintError");
  assert.equal(error?.kind, "unavailable");
  assert.match(error?.message ?? "", /bot/);
});

test("the client outside a request: a customer's sessions", async () => {
  const browser = new Browser();
  await browser.get(`${ctx.shop.url}/products`);
  await browser.post(`${ctx.shop.url}/login`, { customerId: `c-client-${run}` });
  const sessions = await ctx.shop.client.customerSessions(`c-client-${run}`);
  assert.equal(sessions.length, 1);
  assert.equal(sessions[0].customerId, `c-client-${run}`);
  await assert.rejects(ctx.shop.client.session("not-a-session-id"), (e) => e.kind === "rejected" && e.status === 400);
});

test("mounted twice on one path, the middleware resolves once: one page view", async () => {
  const middleware = stint({ url: ctx.stint.url, serviceKey: SERVICE_KEY, timeoutMs: 1000 });
  const app = express();
  const router = express.Router();
  app.use(middleware);
  router.use(middleware);
  router.get("/page", (req, res) => res.json(req.stint.session));
  app.use("/shop", router);
  const server = await new Promise((r) => {
    const s = app.listen(0, "127.0.0.1", () => r(s));
  });
  try {
    const browser = new Browser();
    const first = await browser.get(`http://127.0.0.1:${server.address().port}/shop/page`);
    assert.equal(first.json.pageViews, 1);
    const second = await browser.get(`http://127.0.0.1:${server.address().port}/shop/page`);
    assert.equal(second.json.pageViews, 2);
    const stored = await ctx.stint.admin(`/api/admin/sessions/${first.json.sessionId}`);
    assert.equal(stored.pageViews, 2);
  } finally {
    middleware.client.close();
    server.close();
  }
});
