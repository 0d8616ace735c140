// What the tests share: the real `stint` binary started on a port of its own, the shop (an
// Express app on the package), and a browser that keeps its cookies.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { after, before } from "node:test";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import express from "express";
import { stint } from "stint-express";

const here = dirname(fileURLToPath(import.meta.url));

/** The binary under test: `STINT_BIN`, else the workspace's debug build. */
export const STINT_BIN = process.env.STINT_BIN ?? resolve(here, "../../../target/debug/stint");
export const SERVICE_KEY = "node-test-service-key-0123456789";
export const ADMIN_TOKEN = "node-test-admin-token-0123456789";

/**
 * The stores: the embedded default unless `STINT_NODE_TEST_DATABASE_URL` (and
 * `STINT_NODE_TEST_REDIS_URL`) name others, as the test command does on its second pass.
 */
function storeEnvironment() {
  const env = {};
  if (process.env.STINT_NODE_TEST_DATABASE_URL) env.DATABASE_URL = process.env.STINT_NODE_TEST_DATABASE_URL;
  if (process.env.STINT_NODE_TEST_REDIS_URL) env.REDIS_URL = process.env.STINT_NODE_TEST_REDIS_URL;
  return env;
}

/** A `stint serve` process; `restart()` brings it back on the same address and data directory. */
export class Stint {
  static async start(env = {}) {
    const dataDir = mkdtempSync(join(tmpdir(), "stint-node-"));
    const stint = new Stint(dataDir, env);
    await stint.#spawn("127.0.0.1:0");
    return stint;
  }

  constructor(dataDir, env) {
    this.dataDir = dataDir;
    this.env = env;
    this.url = undefined;
    this.child = undefined;
    this.output = "";
  }

  async #spawn(listen) {
    const child = spawn(STINT_BIN, ["serve", "--data-dir", this.dataDir, "--listen", listen], {
      env: {
        ...process.env,
        STINT_SERVICE_KEY: SERVICE_KEY,
        STINT_ADMIN_TOKEN: ADMIN_TOKEN,
        RUST_LOG: "warn",
        ...storeEnvironment(),
        ...this.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    child.stderr.on("data", (chunk) => (this.output += chunk));
    this.url = await new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`stint did not start in 60 s:\n${this.output}`)), 60_000);
      let seen = "";
      child.stdout.on("data", (chunk) => {
        seen += chunk;
        const found = /stint listening on (http:\/\/\S+)/.exec(seen);
        if (found) {
          clearTimeout(timer);
          resolvePromise(found[1]);
        }
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`stint exited with ${code}:\n${this.output}`));
      });
    });
  }

  /**
   * Freezes the process: connections are accepted by the kernel, nothing answers. Resolves
   * once Linux reports it stopped (the signal takes a moment to reach a running process).
   */
  async pause() {
    this.child.kill("SIGSTOP");
    const deadline = Date.now() + 5000;
    for (;;) {
      const stat = readFileSync(`/proc/${this.child.pid}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("T")) return;
      if (Date.now() > deadline) throw new Error("stint did not stop on SIGSTOP");
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  resume() {
    this.child.kill("SIGCONT");
  }

  /** Stops it as an operator would (SIGTERM) and waits for the exit. */
  async stop() {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGCONT");
    child.kill("SIGTERM");
    await exited;
  }

  async restart() {
    await this.stop();
    await this.#spawn(new URL(this.url).host);
  }

  async close() {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** `GET` an admin route; the envelope's `data`. */
  async admin(path) {
    const r = await send(this.url + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text}`);
    return r.json.data;
  }
}

/**
 * A Stint and a shop on it for the tests of one file: started before them, stopped after.
 * Read `ctx.stint` and `ctx.shop` inside the tests.
 */
export function withShop(options = {}) {
  const ctx = {};
  before(async () => {
    ctx.stint = await Stint.start();
    ctx.shop = await startShop(ctx.stint.url, options);
  });
  after(async () => {
    await ctx.shop?.close();
    await ctx.stint?.close();
  });
  return ctx;
}

/** Warnings and notices the package wrote. */
export class Log {
  warnings = [];
  notices = [];
  warn(message) {
    this.warnings.push(message);
  }
  info(message) {
    this.notices.push(message);
  }
}

/**
 * The documents' shop as an Express app on the package: the pages show the session, and the
 * routes for login, logout, orders, the cart (the session's data) and events call `req.stint`.
 * Errors that reach Express are kept in `errors`.
 */
export async function startShop(stintUrl, options = {}) {
  const log = new Log();
  const errors = [];
  const hooks = {};
  const app = express();
  if (options.trustProxy) app.set("trust proxy", true);
  app.use(express.json());
  // A debug build on a loaded two-core machine can take longer than the 100 ms default: the
  // tests that are not about timeouts must not see one.
  const middleware = stint({ url: stintUrl, serviceKey: SERVICE_KEY, timeoutMs: 1000, logger: log, ...options.stint });
  app.use(middleware);
  const show = (req) => ({
    session: req.stint.session,
    sessionId: req.stint.sessionId,
    visitorId: req.stint.visitorId,
    customerId: req.stint.customerId,
    degraded: req.stint.degraded,
    bot: req.stint.bot,
    created: req.stint.created,
  });
  app.get("/products", (req, res) => res.json(show(req)));
  app.get("/products/:id", (req, res) => res.json({ id: req.params.id, ...show(req) }));
  app.post("/login", async (req, res) => {
    const session = await req.stint.login(req.body.customerId);
    res.json({ session });
  });
  app.post("/logout", async (req, res) => {
    await req.stint.logout();
    res.json(show(req));
  });
  app.post("/orders", async (req, res) => {
    const order = { orderId: req.body.orderId, total: req.body.total, currency: "EUR" };
    // The documents' rule: a failure to record never fails the order.
    const session = await req.stint.convert(order).catch(() => null);
    res.status(201).json({ order, session });
  });
  app.post("/cart", async (req, res) => {
    await hooks.beforeCart?.();
    res.json(await req.stint.data.update({ set: req.body.set ?? {}, remove: req.body.remove ?? [] }));
  });
  app.get("/cart", async (req, res) => res.json(await req.stint.data.get()));
  app.post("/events", async (req, res) => res.status(201).json(await req.stint.track(req.body.type, req.body.details)));
  app.delete("/sessions/others", async (req, res) => res.json(await req.stint.revokeOtherSessions()));
  app.use((error, req, res, _next) => {
    errors.push(error);
    res.status(500).json({ error: String(error) });
  });
  const server = await new Promise((r) => {
    const s = app.listen(0, "127.0.0.1", () => r(s));
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    errors,
    hooks,
    client: middleware.client,
    close: () =>
      new Promise((r) => {
        middleware.client.close();
        server.closeAllConnections?.();
        server.close(r);
      }),
  };
}

/** One HTTP request with exactly the headers given; the answer with its JSON, if any. */
export function send(url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolvePromise, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const all = { ...headers };
    if (payload !== undefined) {
      all["content-type"] = "application/json";
      all["content-length"] = payload.length;
    }
    const started = performance.now();
    const request = http.request(url, { method, headers: all, agent: false }, (response) => {
      const chunks = [];
      response.on("data", (c) => chunks.push(c));
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolvePromise({
          status: response.statusCode,
          headers: response.headers,
          setCookie: response.headers["set-cookie"] ?? [],
          text,
          json,
          ms: performance.now() - started,
        });
      });
    });
    request.on("error", reject);
    request.end(payload);
  });
}

/** A browser: sends its cookies, keeps what the shop sets. */
export class Browser {
  cookies = new Map();
  constructor(headers = {}) {
    this.headers = { "user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36", ...headers };
  }

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  async request(url, options = {}) {
    const headers = { ...this.headers, ...options.headers };
    if (this.cookies.size > 0 && headers.cookie === undefined) headers.cookie = this.cookieHeader();
    const answer = await send(url, { ...options, headers });
    for (const line of answer.setCookie) {
      const [pair, ...attributes] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return answer;
  }

  get(url, headers) {
    return this.request(url, { headers });
  }

  post(url, body, method = "POST") {
    return this.request(url, { method, body });
  }
}

/** The `Set-Cookie` value for `name` among an answer's, if any. */
export function setCookieFor(answer, name) {
  return answer.setCookie.find((line) => line.startsWith(`${name}=`));
}
