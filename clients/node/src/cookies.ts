import type { ServerResponse } from "node:http";

/** The cookies Stint sets; the only ones it is sent. */
const STINT_COOKIES = new Set(["session", "visitor_id"]);

/**
 * Longest value passed on: a signed token or a visitor id is under 200 bytes, so a longer
 * value is garbage, and dropping it has Stint treat the cookie as missing (a new session)
 * rather than refuse the request.
 */
const MAX_VALUE = 1024;

/** Printable ASCII without `;`, `,`, `"`, `\` and space: what a cookie value may hold. */
const COOKIE_VALUE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;

/**
 * The part of the browser's `Cookie` header that is Stint's: the `session` and `visitor_id`
 * pairs, well-formed and bounded. The shop's own cookies never leave the process, and no
 * cookie of any size or shape makes Stint refuse the request.
 */
export function stintCookies(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const raw = Array.isArray(header) ? header.join("; ") : header;
  let kept: string | undefined;
  for (const pair of raw.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0) continue;
    const name = pair.slice(0, eq).trim();
    if (!STINT_COOKIES.has(name)) continue;
    const value = pair.slice(eq + 1).trim();
    if (value.length > MAX_VALUE || !COOKIE_VALUE.test(value)) continue;
    kept = kept === undefined ? `${name}=${value}` : `${kept}; ${name}=${value}`;
  }
  return kept;
}

/** The name of the cookie a `Set-Cookie` value sets. */
function cookieName(setCookie: string): string {
  const eq = setCookie.indexOf("=");
  return (eq < 0 ? setCookie : setCookie.slice(0, eq)).trim();
}

/**
 * Adds Stint's `Set-Cookie` values to the response, unchanged, replacing any value set
 * earlier in the same response for the same cookie (a login after the first visit's cookie
 * leaves only the new token). Returns false when the headers are already sent.
 */
export function passCookies(res: ServerResponse, values: readonly string[]): boolean {
  if (values.length === 0) return true;
  if (res.headersSent) return false;
  const names = new Set(values.map(cookieName));
  const previous = res.getHeader("set-cookie");
  const kept =
    previous === undefined
      ? []
      : (Array.isArray(previous) ? previous : [String(previous)]).filter((v) => !names.has(cookieName(v)));
  res.setHeader("set-cookie", [...kept, ...values]);
  return true;
}
