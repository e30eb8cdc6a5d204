// The bearer-token check for HTTP requests and WebSocket upgrades. Both the presented and the expected
// token are hashed with SHA-256 first, so timingSafeEqual always compares two 32-byte digests: how long a
// refusal takes depends neither on which bytes of the token were right nor on the presented length.
import { createHash, timingSafeEqual } from "node:crypto";

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

/** A predicate over an `Authorization` header: `Bearer <token>`, or the bare token (as in MASONS). */
export function bearerChecker(token: string): (authorization: string | undefined) => boolean {
  const expected = digest(token);
  return (authorization) => {
    const header = authorization ?? "";
    return timingSafeEqual(digest(header.startsWith("Bearer ") ? header.slice(7) : header), expected);
  };
}
