import * as net from "node:net";
import * as tls from "node:tls";

/**
 * HTTP/1.1 to one server (Stint), with keep-alive and pipelining, on Node's own sockets.
 *
 * Why not `http.request` or `fetch`: the middleware makes one call per page, and Node's
 * general-purpose clients cost more than the page itself (measured in `bench/`: `fetch` about
 * 430 µs of CPU per call, `http.request` about 80 µs). Stint's answers are small JSON documents
 * with a `Content-Length`, so the whole exchange is one write and one parse: requests made in the
 * same tick leave in one write on a connection, and their answers come back in order.
 */

/** What one exchange gives back. */
export interface Answer {
  status: number;
  body: Buffer;
}

/** Why an exchange failed: no answer in time, or no usable connection. */
export class TransportError extends Error {
  constructor(
    readonly reason: "timeout" | "unreachable",
    message: string,
  ) {
    super(message);
    this.name = "TransportError";
  }
}

export interface TransportOptions {
  /** `http:` or `https:`. */
  secure: boolean;
  hostname: string;
  port: number;
  /** The `Host` header. */
  host: string;
  /** CA certificates to trust for `https:` instead of Node's. */
  ca?: string | Buffer | Array<string | Buffer> | undefined;
  /** Connections kept open at most. */
  maxConnections: number;
}

/** How long a connection may stay unused before this side closes it. */
const IDLE_MS = 20_000;

/** Longest answer read: Stint's are a few KiB; a session's data is bounded far below this. */
const MAX_ANSWER = 8 * 1024 * 1024;

interface Pending {
  settle(error: Error | undefined, answer?: Answer): void;
}

export class Transport {
  readonly #options: TransportOptions;
  readonly #connections: Connection[] = [];

  readonly #sweeper: NodeJS.Timeout;

  constructor(options: TransportOptions) {
    this.#options = options;
    // A connection is closed by this side after IDLE_MS without a request, before Stint (60 s)
    // or a proxy (nginx: 75 s) closes it: a request never races the other side's close.
    this.#sweeper = setInterval(() => {
      const now = Date.now();
      for (const c of [...this.#connections]) {
        if (c.inFlight === 0 && now - c.lastUsed > IDLE_MS) c.destroy(new TransportError("unreachable", "idle"));
      }
    }, IDLE_MS / 4);
    this.#sweeper.unref();
  }

  /** Sends one request (`headers`: complete header lines, each ending in CRLF) and settles within `timeoutMs`. */
  exchange(method: string, path: string, headers: string, body: string | undefined, timeoutMs: number): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const length = body === undefined ? "" : `content-length: ${Buffer.byteLength(body)}\r\n`;
      const request = `${method} ${path} HTTP/1.1\r\nhost: ${this.#options.host}\r\n${headers}${length}\r\n${body ?? ""}`;
      let done = false;
      const timer = setTimeout(() => {
        // Answers come in order: the ones behind this one are late too, and this connection
        // would hand the next answer to the wrong request. Start afresh.
        connection.destroy(new TransportError("timeout", `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const pending: Pending = {
        settle(error, answer) {
          if (done) return;
          done = true;
          clearTimeout(timer);
          if (error) reject(error);
          else resolve(answer as Answer);
        },
      };
      const connection = this.#pick();
      connection.send(request, pending);
    });
  }

  /** Closes every connection; requests in flight fail. */
  close(): void {
    clearInterval(this.#sweeper);
    for (const c of this.#connections.splice(0)) c.destroy(new TransportError("unreachable", "the client was closed"));
  }

  /** The connection with the fewest requests in flight, or a new one while every open one is busy and there is room. */
  #pick(): Connection {
    let best: Connection | undefined;
    for (const c of this.#connections) {
      if (best === undefined || c.inFlight < best.inFlight) best = c;
    }
    // Stint answers the requests of one connection one after the other, so more connections
    // mean more answers at once; past the limit, requests queue (pipelined) on the least busy.
    if (best === undefined || (best.inFlight > 0 && this.#connections.length < this.#options.maxConnections)) {
      const fresh = new Connection(this.#options, (c) => {
        const at = this.#connections.indexOf(c);
        if (at >= 0) this.#connections.splice(at, 1);
      });
      this.#connections.push(fresh);
      return fresh;
    }
    return best;
  }
}

/** One keep-alive connection: requests written in order, answers parsed in order. */
class Connection {
  readonly #socket: net.Socket;
  readonly #queue: Pending[] = [];
  readonly #gone: (c: Connection) => void;
  #buffer: Buffer | undefined;
  #closed = false;
  #corked = false;
  /** When it was last given a request (ms since the epoch). */
  lastUsed = Date.now();

  constructor(options: TransportOptions, gone: (c: Connection) => void) {
    this.#gone = gone;
    const socket = options.secure
      ? tls.connect({
          host: options.hostname,
          port: options.port,
          servername: net.isIP(options.hostname) === 0 ? options.hostname : undefined,
          ca: options.ca,
          ALPNProtocols: ["http/1.1"],
        })
      : net.connect({ host: options.hostname, port: options.port });
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#read(chunk));
    socket.on("error", (error: Error) => this.destroy(new TransportError("unreachable", error.message)));
    socket.on("close", () => this.destroy(new TransportError("unreachable", "the connection was closed")));
    this.#socket = socket;
  }

  get inFlight(): number {
    return this.#queue.length;
  }

  send(request: string, pending: Pending): void {
    if (this.#closed) {
      pending.settle(new TransportError("unreachable", "the connection to Stint is closed"));
      return;
    }
    this.#queue.push(pending);
    this.lastUsed = Date.now();
    // The requests of one turn of the event loop leave in one write.
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      setImmediate(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    this.#socket.write(request, "utf8");
  }

  destroy(error: Error): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#gone(this);
      this.#socket.destroy();
    }
    for (const p of this.#queue.splice(0)) p.settle(error);
  }

  #read(chunk: Buffer): void {
    this.#buffer = this.#buffer === undefined ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const parsed = parse(this.#buffer);
      if (parsed === "incomplete") return;
      if (parsed instanceof Error) {
        this.destroy(parsed);
        return;
      }
      const { answer, used, close } = parsed;
      this.#buffer = used < this.#buffer.length ? this.#buffer.subarray(used) : undefined;
      const pending = this.#queue.shift();
      if (pending === undefined) {
        this.destroy(new TransportError("unreachable", "Stint answered a request it was not sent"));
        return;
      }
      // 1xx answers are not the answer.
      if (answer.status < 200) {
        this.#queue.unshift(pending);
      } else {
        pending.settle(undefined, answer);
      }
      if (close) {
        this.destroy(new TransportError("unreachable", "Stint closed the connection"));
        return;
      }
      if (this.#buffer === undefined) return;
    }
  }
}

const CRLF2 = Buffer.from("\r\n\r\n");

/** One answer from the front of `buffer`, `"incomplete"` while more bytes are needed, or the reason it is not HTTP. */
function parse(buffer: Buffer): { answer: Answer; used: number; close: boolean } | "incomplete" | TransportError {
  const end = buffer.indexOf(CRLF2);
  if (end < 0) {
    return buffer.length > 64 * 1024 ? new TransportError("unreachable", "an answer's head over 64 KiB") : "incomplete";
  }
  const head = buffer.toString("latin1", 0, end);
  const lines = head.split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
  if (status === null) return new TransportError("unreachable", `not an HTTP answer: ${JSON.stringify((lines[0] ?? "").slice(0, 40))}`);
  let length: number | undefined;
  let chunked = false;
  let close = lines[0]?.startsWith("HTTP/1.0") ?? false;
  for (let i = 1; i < lines.length; i += 1) {
    const line = lines[i] as string;
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim().toLowerCase();
    if (name === "content-length") length = Number(value);
    else if (name === "transfer-encoding") chunked = value.includes("chunked");
    else if (name === "connection") close = value.includes("close");
  }
  const start = end + 4;
  const code = Number(status[1]);
  if (chunked) {
    const decoded = dechunk(buffer, start);
    if (decoded === "incomplete" || decoded instanceof TransportError) return decoded;
    return { answer: { status: code, body: decoded.body }, used: decoded.used, close };
  }
  if (code < 200 || code === 204 || code === 304) return { answer: { status: code, body: Buffer.alloc(0) }, used: start, close };
  if (length === undefined || !Number.isSafeInteger(length) || length < 0) {
    return new TransportError("unreachable", "an answer without a length");
  }
  if (length > MAX_ANSWER) return new TransportError("unreachable", `an answer over ${MAX_ANSWER} bytes`);
  if (buffer.length < start + length) return "incomplete";
  return { answer: { status: code, body: buffer.subarray(start, start + length) }, used: start + length, close };
}

/** A chunked body from `at`: the bytes and where the answer ends. */
function dechunk(buffer: Buffer, at: number): { body: Buffer; used: number } | "incomplete" | TransportError {
  const parts: Buffer[] = [];
  let total = 0;
  let at_ = at;
  for (;;) {
    const line = buffer.indexOf("\r\n", at_, "latin1");
    if (line < 0) return "incomplete";
    const size = parseInt(buffer.toString("latin1", at_, line).split(";")[0] ?? "", 16);
    if (!Number.isSafeInteger(size) || size < 0) return new TransportError("unreachable", "a malformed chunk");
    at_ = line + 2;
    if (size === 0) {
      // Trailers, if any, end with an empty line.
      const end = buffer.indexOf("\r\n", at_, "latin1");
      if (end < 0) return "incomplete";
      if (end === at_) return { body: Buffer.concat(parts, total), used: end + 2 };
      const trailers = buffer.indexOf(CRLF2, at_);
      if (trailers < 0) return "incomplete";
      return { body: Buffer.concat(parts, total), used: trailers + 4 };
    }
    total += size;
    if (total > MAX_ANSWER) return new TransportError("unreachable", `an answer over ${MAX_ANSWER} bytes`);
    if (buffer.length < at_ + size + 2) return "incomplete";
    parts.push(buffer.subarray(at_, at_ + size));
    at_ += size + 2;
  }
}
