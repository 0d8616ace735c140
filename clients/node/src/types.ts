// The shapes Stint's session API exchanges, taken from its OpenAPI document
// (openapi.json, compiled into ./generated/openapi.ts at build time): when
// the API changes, the package stops compiling instead of drifting.
import type { components, paths } from "./generated/openapi.js";

type Schemas = components["schemas"];
type JsonOf<T> = T extends { content: { "application/json": infer B } } ? B : never;
type Operation<P extends keyof paths, M extends keyof paths[P]> = paths[P][M];

/** The JSON body an operation takes. */
export type RequestBody<P extends keyof paths, M extends keyof paths[P]> =
  Operation<P, M> extends { requestBody?: infer B } ? JsonOf<NonNullable<B>> : never;

/** The `data` of an operation's success envelope (its 200 or 201 answer). */
export type Answer<P extends keyof paths, M extends keyof paths[P]> =
  Operation<P, M> extends { responses: infer R }
    ? (R extends { 200: infer A } ? JsonOf<A> : R extends { 201: infer A } ? JsonOf<A> : never) extends {
        data: infer D;
      }
      ? D
      : never
    : never;

/** A session as Stint shows it (the contract's session shape). */
export type Session = Schemas["Session"];

/** A browser request as the backend forwards it to `resolve`. */
export type ForwardedRequest = RequestBody<"/api/v1/sessions/resolve", "post">;

/** What `resolve` answers: the session, the cookies for the browser, whether it was created, whether the client is a bot. */
export type Resolution = Answer<"/api/v1/sessions/resolve", "post">;

/** A change that hands the browser a cookie (login, logout). */
export type CookieChange = Answer<"/api/v1/sessions/{id}/login", "post">;

/** An order placed in the session: `{orderId, total, currency}`. */
export type Conversion = RequestBody<"/api/v1/sessions/{id}/convert", "post">;

/** An event of the shop's: its `type` and optional `page`, `productId`, `metadata`. */
export type TrackedEvent = RequestBody<"/api/v1/sessions/{id}/events", "post">;

/** Whether an event was recorded (not for a visitor who asked not to be tracked). */
export type Recorded = Answer<"/api/v1/sessions/{id}/events", "post">;

/** A change to a session's data: keys to set, keys to remove, applied at once. */
export type DataChange = RequestBody<"/api/v1/sessions/{id}/data", "patch">;

/** A session's data: the JSON object the shop keeps in it. */
export type SessionData = Record<string, unknown>;

/** How many sessions were revoked. */
export type Revoked = Answer<"/api/v1/customers/{id}/sessions", "delete">;

/** A customer's active sessions. */
export type CustomerSessions = Answer<"/api/v1/customers/{id}/sessions", "get">;
