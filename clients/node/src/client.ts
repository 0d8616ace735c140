import { StintError } from "./error.js";
import { Health, type Logger } from "./health.js";
import { Transport, TransportError } from "./transport.js";
import type {
  Conversion,
  CookieChange,
  CustomerSessions,
  DataChange,
  ForwardedRequest,
  Recorded,
  Resolution,
  Revoked,
  Session,
  SessionData,
  TrackedEvent,
} from "./types.js";

/** How to reach Stint's session API. */
export interface ClientOptions {
  /** Stint's base address, e.g. `http://127.0.0.1:8080` (a path prefix is kept). */
  url: string;
  /** One of the keys of Stint's `STINT_SERVICE_KEY`. */
  serviceKey: string;
  /** How long a call other than `resolve` may take before it rejects, in ms. Default 2000. */
  callTimeoutMs?: number;
  /** During an outage, how often one request probes Stint again, in ms. Default 1000. */
  retryMs?: number;
  /** Where warnings go. Default `console`. */
  logger?: Logger;
  /** Connections to Stint kept open at most; past them, requests are pipelined. Default 8. */
  maxConnections?: number;
  /** For `https:`, the CA certificates (PEM) to trust instead of Node's. */
  ca?: string | Buffer | Array<string | Buffer>;
}

/**
 * A client of Stint's session API (`/api/v1/*`). The middleware uses one; a shop uses one
 * directly for what happens outside a browser request (an order confirmed by a payment
 * webhook, a customer's devices listed on an account page).
 *
 * A few keep-alive connections, pipelined (Node's own `net` and `tls`), no dependency. Every
 * promise settles within its timeout and rejects with a {@link StintError}.
 */
export class StintClient {
  readonly #base: URL;
  readonly #prefix: string;
  readonly #headers: string;
  readonly #jsonHeaders: string;
  readonly #transport: Transport;
  readonly #callTimeoutMs: number;
  /** Whether Stint answers, shared by every call through this client. */
  readonly health: Health;

  constructor(options: ClientOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("stint-express: options { url, serviceKey } are required");
    }
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new TypeError(`stint-express: url ${JSON.stringify(options.url)} is not a URL (e.g. http://127.0.0.1:8080)`);
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") {
      throw new TypeError(`stint-express: url must be http:// or https://, not ${base.protocol}`);
    }
    if (typeof options.serviceKey !== "string" || options.serviceKey.trim() === "") {
      throw new TypeError(
        "stint-express: serviceKey is required: one of Stint's STINT_SERVICE_KEY keys " +
          "(development: the data directory's service_key file)",
      );
    }
    const key = options.serviceKey.trim();
    if (!/^[\x21-\x7E]+$/.test(key)) {
      throw new TypeError("stint-express: serviceKey must be printable ASCII without spaces");
    }
    this.#base = base;
    this.#prefix = base.pathname.replace(/\/+$/, "");
    this.#headers = `authorization: Bearer ${key}\r\naccept: application/json\r\n`;
    this.#jsonHeaders = `${this.#headers}content-type: application/json\r\n`;
    const secure = base.protocol === "https:";
    this.#transport = new Transport({
      secure,
      hostname: base.hostname.replace(/^\[|\]$/g, ""),
      port: base.port === "" ? (secure ? 443 : 80) : Number(base.port),
      host: base.host,
      ca: options.ca,
      maxConnections: positive(options.maxConnections, 8, "maxConnections"),
    });
    this.#callTimeoutMs = positive(options.callTimeoutMs, 2000, "callTimeoutMs");
    this.health = new Health(base.origin + this.#prefix, options.logger ?? console, positive(options.retryMs, 1000, "retryMs"));
  }

  /** What Stint's session layer does for this browser request: the session, resumed or created, and the cookies for the browser. */
  async resolve(request: ForwardedRequest, timeoutMs: number): Promise<Resolution> {
    return this.call("POST", "/api/v1/sessions/resolve", request, timeoutMs);
  }

  /** The session with this id. */
  async session(sessionId: string): Promise<Session> {
    return this.call("GET", `/api/v1/sessions/${segment(sessionId)}`);
  }

  /** Signs the customer in on this session: same session id, a new token in `setCookie`. */
  async login(sessionId: string, customerId: string): Promise<CookieChange> {
    return this.call("POST", `/api/v1/sessions/${segment(sessionId)}/login`, { customerId });
  }

  /** Ends the session (its history is kept); `setCookie` clears the browser's cookie. */
  async logout(sessionId: string): Promise<CookieChange> {
    return this.call("POST", `/api/v1/sessions/${segment(sessionId)}/logout`, {});
  }

  /** Marks the session converted by this order, which counts in the revenue. */
  async convert(sessionId: string, order: Conversion): Promise<Session> {
    return this.call("POST", `/api/v1/sessions/${segment(sessionId)}/convert`, order);
  }

  /** Records an event of the shop's in the session. */
  async track(sessionId: string, event: TrackedEvent): Promise<Recorded> {
    return this.call("POST", `/api/v1/sessions/${segment(sessionId)}/events`, event);
  }

  /** The session's data. */
  async data(sessionId: string): Promise<SessionData> {
    return this.call("GET", `/api/v1/sessions/${segment(sessionId)}/data`);
  }

  /** Changes the session's data atomically (parallel changes lose nothing) and returns it. */
  async updateData(sessionId: string, change: DataChange): Promise<SessionData> {
    return this.call("PATCH", `/api/v1/sessions/${segment(sessionId)}/data`, change);
  }

  /** The customer's active sessions. */
  async customerSessions(customerId: string): Promise<CustomerSessions> {
    return this.call("GET", `/api/v1/customers/${segment(customerId)}/sessions`);
  }

  /** Revokes the customer's sessions, all but `except` when given. */
  async revokeCustomerSessions(customerId: string, except?: string): Promise<Revoked> {
    const query = except === undefined ? "" : `?except=${encodeURIComponent(except)}`;
    return this.call("DELETE", `/api/v1/customers/${segment(customerId)}/sessions${query}`);
  }

  /** Closes the connections to Stint (for a clean shutdown); calls in flight reject. */
  close(): void {
    this.#transport.close();
  }

  /**
   * One call: the JSON body out, the envelope's `data` back. Settles within `timeoutMs`;
   * tells {@link health} how it went.
   */
  async call<T>(method: string, path: string, body?: unknown, timeoutMs: number = this.#callTimeoutMs): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = payload === undefined ? this.#headers : this.#jsonHeaders;
    let answer;
    try {
      answer = await this.#transport.exchange(method, this.#prefix + path, headers, payload, timeoutMs);
    } catch (cause) {
      const error =
        cause instanceof TransportError && cause.reason === "timeout"
          ? new StintError("timeout", `Stint did not answer ${method} ${path} within ${timeoutMs} ms`, undefined, { cause })
          : new StintError("unreachable", `cannot reach Stint at ${this.#base.origin}: ${(cause as Error).message}`, undefined, { cause });
      this.health.failed(error, Date.now());
      throw error;
    }
    const { status } = answer;
    let envelope: { success?: boolean; data?: unknown; error?: unknown } | undefined;
    try {
      envelope = JSON.parse(answer.body.toString("utf8"));
    } catch {
      envelope = undefined;
    }
    if (status >= 200 && status < 300 && envelope?.success === true) {
      this.health.succeeded(Date.now());
      return envelope.data as T;
    }
    const said = typeof envelope?.error === "string" ? envelope.error : `HTTP ${status}`;
    let error: StintError;
    if (status >= 500 || status < 400) {
      error = new StintError("server", `Stint answered ${method} ${path} with ${status}: ${said}`, status);
    } else {
      // A refusal is an answer: Stint is up (unless it refuses the key: then every call fails).
      if (status !== 401) this.health.succeeded(Date.now());
      error = new StintError("rejected", `Stint refused ${method} ${path} (${status}): ${said}`, status);
    }
    this.health.failed(error, Date.now());
    throw error;
  }
}

/** An id as one path segment: whatever it holds, it cannot reach another route. */
function segment(id: string): string {
  if (typeof id !== "string" || id === "") throw new StintError("rejected", "an id must be a non-empty string", 400);
  return encodeURIComponent(id);
}

/** `value` (a number of milliseconds or connections, above 0), or `fallback` when absent. */
export function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`stint-express: ${name} must be a positive number`);
  }
  return value;
}
