// One sentence for any error `switchboard acp` reports: a broker error with its stable code, an ACP
// error's message, or whatever was thrown.
import { BrokerError } from "../../client/errors.js";

export function errText(err: unknown): string {
  if (err instanceof BrokerError) return `${err.message} (${err.code})`;
  if (err && typeof err === "object" && "message" in err) return String((err as { message: unknown }).message);
  return String(err);
}
