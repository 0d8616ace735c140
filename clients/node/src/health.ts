import type { StintError } from "./error.js";

/** Where the package writes its warnings: `console` unless the options name another. */
export interface Logger {
  warn(message: string): void;
  info(message: string): void;
}

/**
 * Whether Stint is answering, as the calls see it. The first failure of an outage logs one
 * warning; while it lasts, requests go on at once without asking Stint, except one probe
 * every `retryMs`; the first answer ends it with one line.
 */
export class Health {
  #down = false;
  #since = 0;
  #skipped = 0;
  #probing = false;
  #retryAt = 0;

  constructor(
    private readonly target: string,
    private readonly logger: Logger,
    private readonly retryMs: number,
  ) {}

  /** Whether Stint is in an outage now. */
  get down(): boolean {
    return this.#down;
  }

  /** Whether a request should ask Stint now; during an outage, only the next probe does. */
  admit(now: number): boolean {
    if (!this.#down) return true;
    if (!this.#probing && now >= this.#retryAt) {
      this.#probing = true;
      return true;
    }
    this.#skipped += 1;
    return false;
  }

  /** Stint answered. */
  succeeded(now: number): void {
    this.#probing = false;
    if (this.#down) {
      this.#down = false;
      const seconds = ((now - this.#since) / 1000).toFixed(1);
      this.logger.info(
        `stint-express: Stint at ${this.target} answers again after ${seconds} s; ` +
          `${this.#skipped} request(s) went on without a session meanwhile`,
      );
    }
  }

  /** A call failed; `error.outage` says whether it counts against Stint. */
  failed(error: StintError, now: number): void {
    if (!error.outage) return;
    this.#probing = false;
    this.#retryAt = now + this.retryMs;
    if (!this.#down) {
      this.#down = true;
      this.#since = now;
      this.#skipped = 0;
      this.logger.warn(
        `stint-express: Stint at ${this.target} is not answering (${error.message}); ` +
          `requests go on without a session until it is back`,
      );
    }
  }
}
