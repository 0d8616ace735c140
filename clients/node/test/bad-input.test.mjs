// What a browser (or anyone posing as one) sends never reaches the shop as an exception:
// garbage cookies, huge and odd headers, odd addresses. Each page is served with a session,
// and Stint refuses nothing the package sends (a refusal would be logged).
import assert from "node:assert/strict";
import * as net from "node:net";
import { test } from "node:test";

import { Browser, send, withShop } from "./support.mjs";

const ctx = withShop({ trustProxy: true });

function assertServed(page, what) {
  assert.equal(page.status, 200, `${what}: ${page.text}`);
  assert.equal(page.json.degraded, false, what);
  assert.ok(page.json.session, what);
}

test("garbage cookies give a new session, never an error", async () => {
  const valid = new Browser();
  const first = await valid.get(`${ctx.shop.url}/products`);
  const visitor = valid.cookies.get("visitor_id");
  const garbage = [
    "session=",
    "session",
    "session=%%%%%",
    `session=${"A".repeat(5000)}`,
    "session=\u00e9\u00e8\u00ff",
    "session=a.b.c; session=d.e.f",
    `session="${"x".repeat(40)}"`,
    ";;;===;;; =",
    "visitor_id=../../etc/passwd; session=x",
    `visitor_id=${"9".repeat(3000)}`,
    `visitor_id=${visitor}; session=forged.token.value`,
    Array.from({ length: 300 }, (_, i) => `shop_cookie_${i}=${"v".repeat(30)}`).join("; "),
  ];
  for (const cookie of garbage) {
    const page = await send(`${ctx.shop.url}/products`, { headers: { cookie } });
    assertServed(page, cookie.slice(0, 60));
    assert.notEqual(page.json.sessionId, first.json.sessionId);
  }
  // The visitor id survives a forged session token where it is valid itself.
  const kept = await send(`${ctx.shop.url}/products`, { headers: { cookie: `visitor_id=${visitor}; session=forged.token.value` } });
  assert.equal(kept.json.visitorId, first.json.visitorId);
  // The shop's own cookies, however many, never cost the visitor their session.
  const crowded = Array.from({ length: 250 }, (_, i) => `shop_cookie_${i}=${"v".repeat(40)}`);
  crowded.splice(120, 0, valid.cookieHeader());
  const resumed = await send(`${ctx.shop.url}/products`, { headers: { cookie: crowded.join("; ") } });
  assertServed(resumed, "crowded cookie header");
  assert.equal(resumed.json.sessionId, first.json.sessionId);
  assert.deepEqual(ctx.shop.errors, []);
  assert.deepEqual(ctx.shop.log.warnings, []);
});

test("huge and odd headers and URLs are served", async () => {
  const cases = [
    { "user-agent": `Mozilla/5.0 ${"x".repeat(12_000)}` },
    { "user-agent": "Mozilla/5.0 (\u00e4\u00f6\u00fc; \u00ff)" },
    { "user-agent": "" },
    { referer: `https://example.com/${"r".repeat(10_000)}` },
    { referer: "https://ex\u00e4mple.com/p\u00e4ge?q=\u00ff" },
    { referer: "not a url at all" },
    { "x-forwarded-for": "not-an-address" },
    { "x-forwarded-for": "::ffff:198.51.100.7" },
    { "x-forwarded-for": "2001:db8::1" },
    { dnt: "1", "sec-gpc": "1" },
  ];
  for (const headers of cases) {
    const page = await send(`${ctx.shop.url}/products`, { headers });
    assertServed(page, JSON.stringify(headers).slice(0, 80));
  }
  const v4mapped = await send(`${ctx.shop.url}/products`, { headers: { "x-forwarded-for": "::ffff:198.51.100.7" } });
  assert.equal(v4mapped.json.session.ipAddress, "198.51.100.0");
  const v6 = await send(`${ctx.shop.url}/products`, { headers: { "x-forwarded-for": "2001:db8:1234:5678::1" } });
  assert.equal(v6.json.session.ipAddress, "2001:db8:1234::");

  for (const path of [
    `/products?q=${"q".repeat(8000)}`,
    "/products?q=%%%zz%",
    "/products?q=a|b^c{d}",
    "/products/%C3%A9t%C3%A9?utm_source=%F0%9F%98%80",
    "/products/..%2F..%2Fetc",
  ]) {
    const page = await send(`${ctx.shop.url}${path}`);
    assertServed(page, path.slice(0, 60));
  }
  assert.deepEqual(ctx.shop.errors, []);
  assert.deepEqual(ctx.shop.log.warnings, []);
});

test("a request line Node itself refuses never reaches the shop, and the shop goes on", async () => {
  const { port } = new URL(ctx.shop.url);
  const raw = (text) =>
    new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), "127.0.0.1");
      let answer = "";
      socket.on("data", (d) => (answer += d));
      socket.on("end", () => resolve(answer));
      socket.on("error", reject);
      socket.end(text);
    });
  // Headers past Node's limit (16 KiB): Node answers 431 before any middleware runs.
  const huge = await raw(`GET /products HTTP/1.1\r\nHost: x\r\nCookie: session=${"a".repeat(20_000)}\r\n\r\n`);
  assert.match(huge, /^HTTP\/1\.1 431/);
  const control = await raw("GET /products HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n");
  assert.match(control, /^HTTP\/1\.1 400/);
  const after = await new Browser().get(`${ctx.shop.url}/products`);
  assertServed(after, "after the refused requests");
  assert.deepEqual(ctx.shop.errors, []);
});
