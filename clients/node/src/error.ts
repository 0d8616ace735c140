/**
 * Why a call to Stint failed:
 *
 * - `timeout`: no answer within the time allowed;
 * - `unreachable`: no connection (Stint stopped, wrong address);
 * - `server`: Stint answered 5xx;
 * - `rejected`: Stint refused the call (4xx: a wrong service key, an unknown or ended
 *   session, a field out of bounds); `status` and `message` say which;
 * - `unavailable`: this request has no session to act on (Stint did not answer when the
 *   request came in, or the client is a bot), so nothing was sent.
 */
export type StintErrorKind = "timeout" | "unreachable" | "server" | "rejected" | "unavailable";

/** The error every promise of this package rejects with. */
export class StintError extends Error {
  /** Why the call failed. */
  readonly kind: StintErrorKind;
  /** Stint's HTTP status, for `server` and `rejected`. */
  readonly status: number | undefined;

  constructor(kind: StintErrorKind, message: string, status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StintError";
    this.kind = kind;
    this.status = status;
  }

  /**
   * Whether the failure says Stint is down rather than that this call was wrong:
   * a timeout, no connection, a 5xx, or a refused service key (every call would fail alike).
   */
  get outage(): boolean {
    return (
      this.kind === "timeout" ||
      this.kind === "unreachable" ||
      this.kind === "server" ||
      (this.kind === "rejected" && this.status === 401)
    );
  }
}
