// The bearer-token check for HTTP requests and WebSocket upgrades. The presented token is copied into
// a buffer of the expected token's length (cut or zero-padded) and compared with timingSafeEqual, and
// the length is compared separately: how long a refusal takes does not depend on which bytes of the
// token were right, and depends on the presented length only through the caller's own input (the
// token's length, 43 characters, is public). No hashing per request: this runs on every call.
import { timingSafeEqual } from "node:crypto";

/** A predicate over an `Authorization` header: `Bearer <token>`, or the bare token (as in MASONS). */
export function bearerChecker(token: string): (authorization: string | undefined) => boolean {
  const expected = Buffer.from(token, "utf8");
  const given = Buffer.alloc(expected.length);
  return (authorization) => {
    const header = authorization ?? "";
    const presented = header.startsWith("Bearer ") ? header.slice(7) : header;
    given.fill(0);
    given.write(presented, "utf8");
    const sameBytes = timingSafeEqual(given, expected);
    return Buffer.byteLength(presented, "utf8") === expected.length && sameBytes;
  };
}
