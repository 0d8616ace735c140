import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP } from "node:net";

import { positive, StintClient, type ClientOptions } from "./client.js";
import { passCookies, stintCookies } from "./cookies.js";
import { StintError } from "./error.js";
import type { Logger } from "./health.js";
import type { Conversion, DataChange, ForwardedRequest, Recorded, Resolution, Revoked, Session, SessionData, TrackedEvent } from "./types.js";

/** The options of {@link stint}. */
export interface StintOptions extends ClientOptions {
  /**
   * How long a request waits for Stint before it goes on without a session
   * (`req.stint.degraded`), in ms. Default 100.
   */
  timeoutMs?: number;
  /**
   * Whether a request counts as a page view. Default: Stint's rule, a `GET`. Return false for
   * what is not a page (assets, JSON polled by the page) to keep the figures honest.
   */
  pageView?: (req: IncomingMessage) => boolean;
}

/** The request as the middleware reads it: Node's, with what Express adds where present. */
export type StintIncoming = IncomingMessage & { ip?: string | undefined; originalUrl?: string | undefined; stint?: StintContext };

/** The middleware: `app.use(stint({...}))`. Its `client` is the same client, for calls outside a request. */
export interface StintMiddleware {
  (req: StintIncoming, res: ServerResponse, next: (error?: unknown) => void): void;
  /** The session API client the middleware calls through. */
  readonly client: StintClient;
}

/** `req.stint`: the request's session and what the handler can do with it. */
export interface StintContext {
  /** The session (the contract's shape), or `null` when degraded, for a bot, or after `logout()`. */
  readonly session: Session | null;
  /** The session's id: names the journey, never changes (kept after `logout()`); `null` without a session. */
  readonly sessionId: string | null;
  /** The visitor's long-lived id; `null` without a session. */
  readonly visitorId: string | null;
  /** The signed-in customer, or `null`. */
  readonly customerId: string | null;
  /** True when Stint gave no session for this request (no answer within `timeoutMs`, a 5xx, a refused call); the request went on. */
  readonly degraded: boolean;
  /** True when Stint took the client for a bot: no session, no cookie, not counted. */
  readonly bot: boolean;
  /** True when the session was created by this request. */
  readonly created: boolean;
  /** Signs the customer in: the same session id, now a customer's, with a new cookie token. */
  login(customerId: string): Promise<Session>;
  /** Ends the session (its history is kept) and clears the session cookie. */
  logout(): Promise<void>;
  /** Marks the session converted by this order; the total counts in the revenue. */
  convert(order: Conversion): Promise<Session>;
  /** Records an event of the shop's (`add_to_cart`, `checkout_started` or its own type). */
  track(type: string, details?: Omit<TrackedEvent, "type">): Promise<Recorded>;
  /** The session's data, read and changed atomically. */
  readonly data: {
    /** The data as it is now. */
    get(): Promise<SessionData>;
    /** Sets and removes keys in one atomic change (parallel calls lose nothing); resolves to the data after it. */
    update(change: DataChange): Promise<SessionData>;
  };
  /** Signs this customer out everywhere else: revokes their other sessions. */
  revokeOtherSessions(): Promise<Revoked>;
}

/**
 * The Express middleware. For each request it asks Stint's session API for the browser's
 * session (one call: resume or create, the page view counted), passes Stint's cookies on to
 * the response, and sets `req.stint`. When Stint does not answer within `timeoutMs` the
 * request goes on at once with `req.stint.degraded`: a shop never fails because tracking is
 * down.
 *
 * ```js
 * const { stint } = require("stint-express");
 * app.use(stint({ url: "http://127.0.0.1:8080", serviceKey: process.env.STINT_SERVICE_KEY }));
 * ```
 */
export function stint(options: StintOptions): StintMiddleware {
  const client = new StintClient(options);
  const timeoutMs = positive(options.timeoutMs, 100, "timeoutMs");
  const logger = options.logger ?? console;
  const pageView = options.pageView;
  const refusals = new Throttle(60_000);

  const middleware = (req: StintIncoming, res: ServerResponse, next: (error?: unknown) => void): void => {
    // Mounted twice on one path (an app and a router both using it): one session, one page view.
    if (req.stint !== undefined) {
      next();
      return;
    }
    const context = new Context(client, res, logger);
    req.stint = context;
    if (!client.health.admit(Date.now())) {
      context.degrade();
      next();
      return;
    }
    let forwarded: ForwardedRequest;
    try {
      forwarded = forward(req, pageView);
    } catch (error) {
      // A pageView callback of the shop's threw: the request still goes on.
      logger.warn(`stint-express: the pageView option threw: ${String(error)}`);
      context.degrade();
      next();
      return;
    }
    client.resolve(forwarded, timeoutMs).then(
      (resolution) => {
        context.accept(resolution);
        passCookies(res, resolution.setCookie);
        next();
      },
      (error: unknown) => {
        context.degrade();
        if (error instanceof StintError && !error.outage && refusals.ready(Date.now())) {
          logger.warn(`stint-express: ${error.message}; the request went on without a session`);
        }
        next();
      },
    );
  };
  return Object.assign(middleware, { client });
}

/** At most one message per period. */
class Throttle {
  #next = 0;
  constructor(private readonly periodMs: number) {}
  ready(now: number): boolean {
    if (now < this.#next) return false;
    this.#next = now + this.periodMs;
    return true;
  }
}

class Context implements StintContext {
  session: Session | null = null;
  sessionId: string | null = null;
  visitorId: string | null = null;
  degraded = false;
  bot = false;
  created = false;
  readonly data: StintContext["data"];

  constructor(
    private readonly client: StintClient,
    private readonly res: ServerResponse,
    private readonly logger: Logger,
  ) {
    this.data = {
      get: async () => this.client.data(this.#live("read its data")),
      update: async (change: DataChange) => this.client.updateData(this.#live("change its data"), change),
    };
  }

  get customerId(): string | null {
    return this.session?.customerId ?? null;
  }

  accept(resolution: Resolution): void {
    this.session = resolution.session ?? null;
    this.sessionId = this.session?.sessionId ?? null;
    this.visitorId = this.session?.visitorId ?? null;
    this.bot = resolution.bot;
    this.created = resolution.created;
  }

  degrade(): void {
    this.degraded = true;
  }

  async login(customerId: string): Promise<Session> {
    if (typeof customerId !== "string" || customerId === "") {
      throw new StintError("rejected", "login(customerId): customerId must be a non-empty string", 400);
    }
    const change = await this.client.login(this.#live("sign a customer in"), customerId);
    this.#pass(change.setCookie, "login()");
    if (change.session) this.session = change.session;
    return this.session as Session;
  }

  async logout(): Promise<void> {
    const change = await this.client.logout(this.#live("sign out"));
    this.#pass(change.setCookie, "logout()");
    this.session = null;
  }

  async convert(order: Conversion): Promise<Session> {
    this.session = await this.client.convert(this.#live("record an order"), order);
    return this.session;
  }

  async track(type: string, details: Omit<TrackedEvent, "type"> = {}): Promise<Recorded> {
    return this.client.track(this.#live("record an event"), { ...details, type });
  }

  async revokeOtherSessions(): Promise<Revoked> {
    const id = this.#live("sign out other sessions");
    const customer = this.customerId;
    if (customer === null) {
      throw new StintError("rejected", "revokeOtherSessions(): the session is not a customer's", 400);
    }
    return this.client.revokeCustomerSessions(customer, id);
  }

  /** The session id to act on, or the reason there is none. */
  #live(what: string): string {
    if (this.session !== null) return this.session.sessionId;
    const why = this.degraded
      ? "Stint did not answer when this request came in"
      : this.bot
        ? "the client is a bot"
        : "the session has ended";
    throw new StintError("unavailable", `cannot ${what}: this request has no session (${why})`);
  }

  #pass(setCookie: readonly string[], call: string): void {
    if (!passCookies(this.res, setCookie)) {
      this.logger.warn(
        `stint-express: ${call} resolved after the response's headers were sent; ` +
          "the browser keeps its old cookie (await it before answering)",
      );
    }
  }
}

/** Longest user agent or referrer passed on; longer ones are cut (they say nothing more). */
const MAX_HEADER = 2048;
/** Longest path and query passed on. */
const MAX_URL = 8192;

/** What Stint is told of the browser's request: only what it uses, each field in a form it accepts. */
function forward(req: StintIncoming, pageView: StintOptions["pageView"]): ForwardedRequest {
  const headers = req.headers;
  const forwarded: ForwardedRequest = {
    method: req.method ?? "GET",
    url: pathAndQuery(req.originalUrl ?? req.url),
  };
  const cookie = stintCookies(headers.cookie);
  if (cookie !== undefined) forwarded.cookie = cookie;
  const userAgent = headerText(headers["user-agent"]);
  if (userAgent !== undefined) forwarded.userAgent = userAgent;
  const referrer = headerText(headers.referer ?? headers["referrer"]);
  if (referrer !== undefined) forwarded.referrer = referrer;
  const ip = clientAddress(req);
  if (ip !== undefined) forwarded.ip = ip;
  if (headers.dnt === "1") forwarded.dnt = true;
  if (headers["sec-gpc"] === "1") forwarded.gpc = true;
  if (pageView !== undefined) forwarded.pageView = Boolean(pageView(req));
  return forwarded;
}

/** A header's text as a valid header value: visible ASCII, bounded. */
function headerText(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text === "") return undefined;
  return text.slice(0, MAX_HEADER).replace(/[^\x20-\x7E\t]/g, "?");
}

/** The path and query, from an origin-form or absolute-form request target, percent-encoded where a URI may not hold the character. */
function pathAndQuery(target: string | undefined): string {
  let path = target ?? "/";
  if (!path.startsWith("/")) {
    try {
      const url = new URL(path);
      path = url.pathname + url.search;
    } catch {
      return "/";
    }
  }
  const hash = path.indexOf("#");
  if (hash >= 0) path = path.slice(0, hash);
  path = path.slice(0, MAX_URL);
  return path.replace(/[^\x21-\x7E]|["<>\\^`{|}]/g, (c) => encodeURIComponent(c).replace(/%(?![0-9A-F]{2})/g, "%25"));
}

/** Express's `req.ip` (its `trust proxy` setting decides), else the socket's peer; an IPv4 address as such. */
function clientAddress(req: StintIncoming): string | undefined {
  let ip = req.ip ?? req.socket?.remoteAddress;
  if (typeof ip !== "string") return undefined;
  const zone = ip.indexOf("%");
  if (zone >= 0) ip = ip.slice(0, zone);
  if (ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4) ip = ip.slice(7);
  return isIP(ip) === 0 ? undefined : ip;
}
