import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

/** A command name looked up on PATH, or a path checked as is; undefined unless it is executable. */
export function findExecutable(command: string, path = process.env.PATH ?? ""): string | undefined {
  const candidates =
    isAbsolute(command) || command.includes("/")
      ? [command]
      : path
          .split(delimiter)
          .filter(Boolean)
          .map((dir) => join(dir, command));
  return candidates.find((c) => {
    try {
      accessSync(c, constants.X_OK);
      return statSync(c).isFile(); // folders have x bits too
    } catch {
      return false;
    }
  });
}
