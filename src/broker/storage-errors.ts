// File-system errors met while persisting, as wire errors. A request whose change could not be made
// durable is answered with one of these instead of a generic 500: the change was not acknowledged,
// and the broker keeps serving and resumes writing by itself once the state folder takes writes.
import { ProtocolError } from "../protocol/index.js";

const FULL = new Set(["ENOSPC", "EDQUOT"]);
const READ_ONLY = new Set(["EROFS"]);
const UNAVAILABLE = new Set(["EIO", "EACCES", "EPERM", "EBADF", "ENOENT", "EMFILE", "ENFILE"]);

/** The wire error for a storage failure, or undefined if `err` is not one. */
export function storageError(err: unknown): ProtocolError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return undefined;
  const extra = { retryable: true, errno: code };
  if (FULL.has(code))
    return new ProtocolError(
      "storage_full",
      "The broker's state folder is full (no space left on the device), so this change was not acknowledged. Free some space there; the broker resumes by itself.",
      extra,
    );
  if (READ_ONLY.has(code))
    return new ProtocolError(
      "storage_read_only",
      "The broker's state folder is read-only, so this change was not acknowledged. Make it writable again (then restart the broker if the file system had to be remounted).",
      extra,
    );
  if (UNAVAILABLE.has(code))
    return new ProtocolError("storage_unavailable", `The broker could not write its state folder (${code}), so this change was not acknowledged; see the broker log.`, extra);
  return undefined;
}
