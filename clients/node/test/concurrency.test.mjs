// Parallel requests on one session lose nothing: neither a data change nor a page view.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Browser, withShop } from "./support.mjs";

const ctx = withShop();

test("parallel data.update calls on one session lose no update", async () => {
  const browser = new Browser();
  await browser.get(`${ctx.shop.url}/products`);
  const n = 48;
  const answers = await Promise.all(
    Array.from({ length: n }, (_, i) => browser.post(`${ctx.shop.url}/cart`, { set: { [`item-${i}`]: i } })),
  );
  for (const a of answers) assert.equal(a.status, 200, a.text);
  const data = (await browser.get(`${ctx.shop.url}/cart`)).json;
  assert.equal(Object.keys(data).length, n);
  for (let i = 0; i < n; i += 1) assert.equal(data[`item-${i}`], i);

  // Removing and setting in parallel: each call's own keys end as it left them.
  await Promise.all(
    Array.from({ length: n / 2 }, (_, i) =>
      browser.post(`${ctx.shop.url}/cart`, { remove: [`item-${i}`], set: { [`moved-${i}`]: true } }),
    ),
  );
  const moved = (await browser.get(`${ctx.shop.url}/cart`)).json;
  assert.equal(Object.keys(moved).length, n);
  for (let i = 0; i < n / 2; i += 1) {
    assert.equal(moved[`item-${i}`], undefined);
    assert.equal(moved[`moved-${i}`], true);
  }
  assert.deepEqual(ctx.shop.errors, []);
});

test("parallel page views on one session are all counted", async () => {
  const browser = new Browser();
  const first = await browser.get(`${ctx.shop.url}/products`);
  const n = 40;
  const pages = await Promise.all(Array.from({ length: n }, (_, i) => browser.get(`${ctx.shop.url}/products/p-${i % 5}`)));
  for (const p of pages) assert.equal(p.json.sessionId, first.json.sessionId);
  const counts = new Set(pages.map((p) => p.json.session.pageViews));
  assert.equal(counts.size, n, "each request saw its own count");
  const stored = await ctx.stint.admin(`/api/admin/sessions/${first.json.sessionId}`);
  assert.equal(stored.pageViews, n + 1);
});
