// Stint stopped mid-run: pages keep answering within the timeout, degraded, with one warning
// per outage; calls reject instead of hanging; the session resumes when Stint is back.
import assert from "node:assert/strict";
import * as http from "node:http";
import { test } from "node:test";

import { Browser, startShop, withShop } from "./support.mjs";

/** No page may wait longer than this: well above the 400 ms timeout, far below a hang. */
const BOUND_MS = 3000;

const ctx = withShop({ stint: { timeoutMs: 400, callTimeoutMs: 600, retryMs: 200 } });

/** Asks for pages until one has a session again (at most 10 s). */
async function untilServed(browser) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const page = await browser.get(`${ctx.shop.url}/products`);
    assert.equal(page.status, 200);
    if (!page.json.degraded) return page;
    assert.ok(Date.now() < deadline, "the session never came back");
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("a frozen Stint, then a stopped one: the shop goes on and the session comes back", async () => {
  const browser = new Browser();
  const first = await browser.get(`${ctx.shop.url}/products`);
  const sessionId = first.json.sessionId;
  assert.ok(sessionId);

  // Stint freezes between the page's session and the handler's call: the call rejects with a
  // timeout instead of hanging the request. (A data change: whether Stint applies it once it
  // thaws does not change the session the browser comes back to, as a login would.)
  ctx.shop.hooks.beforeCart = () => ctx.stint.pause();
  const change = await browser.post(`${ctx.shop.url}/cart`, { set: { frozen: true } });
  ctx.shop.hooks.beforeCart = undefined;
  assert.equal(change.status, 500);
  assert.ok(change.ms < BOUND_MS, `the change took ${change.ms} ms`);
  const error = ctx.shop.errors.shift();
  assert.equal(error?.name, "StintError");
  assert.equal(error?.kind, "timeout");

  // While it is frozen, every page answers, degraded, without a session or a cookie.
  for (let i = 0; i < 12; i += 1) {
    const page = await browser.get(`${ctx.shop.url}/products`);
    assert.equal(page.status, 200);
    assert.ok(page.ms < BOUND_MS, `page ${i} took ${page.ms} ms`);
    assert.equal(page.json.degraded, true);
    assert.equal(page.json.session, null);
    assert.deepEqual(page.setCookie, []);
  }
  // Its methods reject at once: there is no session to act on.
  const cart = await browser.get(`${ctx.shop.url}/cart`);
  assert.equal(cart.status, 500);
  assert.equal(ctx.shop.errors.shift()?.kind, "unavailable");
  assert.equal(ctx.shop.log.warnings.length, 1, ctx.shop.log.warnings.join("\n"));
  assert.match(ctx.shop.log.warnings[0], /not answering/);

  // Back: the same session, and one line saying so.
  ctx.stint.resume();
  const back = await untilServed(browser);
  assert.equal(back.json.sessionId, sessionId);
  assert.equal(ctx.shop.log.notices.length, 1);
  assert.match(ctx.shop.log.notices[0], /answers again/);

  // Stopped outright: connections are refused; pages answer at once, degraded; a second
  // outage, a second warning.
  await ctx.stint.stop();
  for (let i = 0; i < 12; i += 1) {
    const page = await browser.get(`${ctx.shop.url}/products`);
    assert.equal(page.status, 200);
    assert.ok(page.ms < BOUND_MS, `page ${i} took ${page.ms} ms`);
    assert.equal(page.json.degraded, true);
  }
  const order = await browser.post(`${ctx.shop.url}/orders`, { orderId: "o-down", total: 10 });
  assert.equal(order.status, 201, "an order never fails because Stint is down");
  assert.equal(ctx.shop.log.warnings.length, 2, ctx.shop.log.warnings.join("\n"));

  // Restarted on the same address: the browser's session resumes.
  await ctx.stint.restart();
  const resumed = await untilServed(browser);
  assert.equal(resumed.json.sessionId, sessionId);
  assert.equal(resumed.json.created, false);
  assert.equal(ctx.shop.log.notices.length, 2);
  assert.deepEqual(ctx.shop.errors, []);
});

/** A server that answers every call with `status` and an error envelope. */
async function failing(status) {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify({ success: false, error: `failing with ${status}` }));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return server;
}

for (const status of [500, 503, 401]) {
  test(`Stint answering ${status}: the request goes on degraded, with one warning`, async () => {
    const server = await failing(status);
    const { port } = server.address();
    const broken = await startShop(`http://127.0.0.1:${port}`, { stint: { retryMs: 60_000 } });
    try {
      const browser = new Browser();
      for (let i = 0; i < 5; i += 1) {
        const page = await browser.get(`${broken.url}/products`);
        assert.equal(page.status, 200);
        assert.equal(page.json.degraded, true);
        assert.equal(page.json.session, null);
      }
      assert.equal(broken.log.warnings.length, 1, broken.log.warnings.join("\n"));
      assert.match(broken.log.warnings[0], new RegExp(String(status)));
    } finally {
      await broken.close();
      server.close();
    }
  });
}
