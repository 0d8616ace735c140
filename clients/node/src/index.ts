/**
 * Stint for Express: sessions with sliding expiry and signed rotating tokens, visitor
 * journeys and analytics, through Stint's session API.
 *
 * ```js
 * const express = require("express");
 * const { stint } = require("stint-express");
 *
 * const app = express();
 * app.use(stint({ url: "http://127.0.0.1:8080", serviceKey: process.env.STINT_SERVICE_KEY }));
 * app.get("/", (req, res) => res.json({ session: req.stint.session }));
 * app.post("/login", async (req, res) => { await req.stint.login("c-42"); res.json({ ok: true }); });
 * ```
 *
 * @packageDocumentation
 */
import type { StintContext } from "./middleware.js";

export { stint } from "./middleware.js";
export type { StintContext, StintIncoming, StintMiddleware, StintOptions } from "./middleware.js";
export { StintClient } from "./client.js";
export type { ClientOptions } from "./client.js";
export { StintError } from "./error.js";
export type { StintErrorKind } from "./error.js";
export type { Logger } from "./health.js";
export type {
  Answer,
  Conversion,
  CookieChange,
  CustomerSessions,
  DataChange,
  ForwardedRequest,
  Recorded,
  RequestBody,
  Resolution,
  Revoked,
  Session,
  SessionData,
  TrackedEvent,
} from "./types.js";

declare global {
  // Express's request type, where the application uses Express's types: `req.stint` typed.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The request's Stint session, set by the `stint()` middleware. */
      stint: StintContext;
    }
  }
}
