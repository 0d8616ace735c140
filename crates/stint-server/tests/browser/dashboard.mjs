// Opens the dashboard in Debian's Chromium (playwright-core), on a desktop
// and on a phone viewport, and prints what it shows as JSON:
// node dashboard.mjs URL_WITH_TOKEN URL_WITHOUT_TOKEN VISITOR_ID EMPTY_URL_WITH_TOKEN
// With SCREENSHOTS=dir, full-page screenshots of both viewports go there.
import { readFile } from "node:fs/promises";
import { chromium } from "playwright-core";

const [signedIn, signedOut, visitorId, emptySignedIn] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});
const errors = [];
const text = (page, sel) => page.$eval(sel, (e) => e.textContent.trim());

async function view(viewport) {
  const page = await browser.newPage({ viewport });
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(signedIn);
  await page.waitForFunction(() => document.querySelector("#today-sessions")
    && document.querySelector("#daily tbody tr") && document.querySelector("#funnel tbody tr")
    && document.querySelector("#breakdown tbody tr") && document.querySelector("#rt-visitors").textContent !== "–"
    && document.querySelector("#attribution tbody tr") && document.querySelector("#countries tbody tr")
    && document.querySelector("#sessions tbody tr") && document.querySelector("#top-pages tbody tr"),
    null, { timeout: 20000 });
  if (process.env.SCREENSHOTS) {
    await page.screenshot({ path: `${process.env.SCREENSHOTS}/dashboard-${viewport.width}.png`, fullPage: true });
  }
  const rows = (sel) => page.$$eval(sel + " tbody tr", (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  // The session search opens a timeline.
  await page.selectOption("#search-kind", "visitorId");
  const result = {
    viewport: viewport.width,
    rtVisitors: await text(page, "#rt-visitors"),
    rtSessions: await text(page, "#rt-sessions"),
    todaySessions: await text(page, "#today-sessions"),
    todayVisitors: await text(page, "#today-visitors"),
    todayPageViews: await text(page, "#today-pageViews"),
    dailyDates: await page.$$eval("#daily tbody tr td:first-child", (tds) => tds.map((t) => t.textContent)),
    funnel: await page.$$eval("#funnel tbody tr", (trs) => trs.map((tr) => [tr.children[0].textContent, tr.children[1].textContent])),
    bars: await page.$$eval("#chart svg rect", (r) => r.length),
    overflows: await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1),
    addressBarToken: page.url().includes("token="),
    attribution: await rows("#attribution"),
    countries: await rows("#countries"),
    topPages: await rows("#top-pages"),
    recentSessions: (await rows("#sessions")).length,
    chartWidth: await page.$eval("#chart svg", (svg) => [svg.getBoundingClientRect().width, svg.parentElement.clientWidth]),
    chartTexts: await page.$$eval("#chart svg text", (ts) => ts.map((t) => t.textContent)),
  };
  // The funnel by device: one row per device, one column per step.
  await page.selectOption("#funnel-dimension", "device");
  await page.waitForFunction(() => document.querySelector("#funnel thead th").textContent === "device");
  result.funnelByDevice = await rows("#funnel");
  // The 30-minute window.
  await page.selectOption("#rt-minutes", "30");
  await page.waitForFunction(() => document.querySelector("#top-pages tbody tr"));
  result.topPages30 = await rows("#top-pages");
  // A table's CSV, as the browser saves it.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("button[data-csv=attribution]")]);
  result.attributionCsv = { name: download.suggestedFilename(), text: await readFile(await download.path(), "utf8") };
  await page.close();
  return result;
}

async function searchTimeline(visitorId) {
  const page = await browser.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(signedIn);
  await page.waitForSelector("#search-value");
  await page.fill("#search-value", visitorId);
  await page.click("#search button");
  await page.waitForSelector("#sessions tbody tr");
  await page.click("#sessions tbody tr");
  await page.waitForSelector("#timeline li");
  const items = await page.$$eval("#timeline li", (lis) => lis.map((li) => li.textContent));
  await page.close();
  return items;
}

async function anonymous() {
  const page = await browser.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(signedOut);
  await page.waitForSelector("#signin:not([hidden])");
  const appHidden = await page.$eval("#app", (e) => e.hidden);
  await page.fill("#token", "wrong-token");
  await page.click("#signin-form button");
  await page.waitForSelector("#signin-error:not([hidden])");
  const refused = await text(page, "#signin-error");
  await page.close();
  return { appHidden, refused };
}

// A shop without a visitor yet: an empty state, not zeros.
async function empty() {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(emptySignedIn);
  await page.waitForFunction(() => !document.querySelector("#today-empty").hidden
    && document.querySelector("#attribution caption") && document.querySelector("#funnel caption"));
  const result = {
    todayHidden: await page.$eval("#today", (e) => e.hidden),
    message: await text(page, "#today-empty"),
    attribution: await text(page, "#attribution caption"),
    funnel: await text(page, "#funnel caption"),
    zeroPercentShown: await page.evaluate(() => [...document.querySelectorAll("#app .tile, #app td")]
      .filter((e) => e.offsetParent !== null && e.textContent.includes("0.0%")).map((e) => e.parentElement.textContent)),
  };
  await page.close();
  return result;
}

const desktop = await view({ width: 1280, height: 900 });
const phone = await view({ width: 390, height: 844 });
const timeline = await searchTimeline(visitorId || "");
const signin = await anonymous();
const blank = await empty();
await browser.close();
console.log(JSON.stringify({ errors, desktop, phone, timeline, signin, empty: blank }));
