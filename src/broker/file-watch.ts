// Notices changes to one file on disk, whoever makes them (an editor, another process), with one
// fs.watch on a folder. The folder is watched rather than the file: editors save by writing a new file
// and renaming it over the old one, which a watch on the file itself stops seeing. A file whose folder
// does not exist yet is watched from the nearest existing ancestor (up to `levels` above its folder)
// until the folder appears. Events are coalesced: `onChange` runs once, `delayMs` after the first event
// of a burst, and says only "look again": the caller compares what it finds with what it knew.
import { type FSWatcher, statSync, watch } from "node:fs";
import { basename, dirname, relative, sep } from "node:path";
import type { Logger } from "./log.js";

export class FileWatch {
  private watcher: FSWatcher | undefined;
  /** The folder watched now. */
  private dir: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly file: string,
    private readonly onChange: () => void,
    private readonly log: Logger,
    private readonly o: { delayMs: number; levels: number },
  ) {
    this.attach();
  }

  /** The folder being watched (undefined when none of the file's folders exists). */
  get watching(): string | undefined {
    return this.dir;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.detach();
  }

  /** Watches the nearest existing folder on the way to the file, if it is not the one watched already. */
  private attach(): void {
    const dir = nearestFolder(this.file, this.o.levels);
    if (this.watcher && dir === this.dir) return;
    this.detach();
    if (!dir) return;
    const next = relative(dir, this.file).split(sep)[0]!;
    const self = basename(dir);
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        // The file (or the folder leading to it) changed, or the watched folder itself went away.
        if (name === null || name === next || name === self) this.schedule();
      });
      w.on("error", (err) => {
        this.log.warn("a rules file watch failed; watching again", { dir, err: String(err) });
        if (this.watcher === w) this.detach();
        this.schedule();
      });
      this.watcher = w;
      this.dir = dir;
    } catch (err) {
      this.log.warn("cannot watch a folder for rule changes", { dir, err: String(err) });
    }
  }

  private detach(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.dir = undefined;
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.closed) return;
      // The folder may have appeared (watch it now) or gone (watch its parent).
      this.attach();
      try {
        this.onChange();
      } catch (err) {
        this.log.error("handling a rules file change failed", { file: this.file, err: String(err) });
      }
    }, this.o.delayMs);
    this.timer.unref();
  }
}

/** The file's folder if it exists, else the nearest existing ancestor at most `levels` above it. */
function nearestFolder(file: string, levels: number): string | undefined {
  let dir = dirname(file);
  for (let i = 0; i <= levels; i++) {
    try {
      if (statSync(dir).isDirectory()) return dir;
    } catch {
      // not there (yet)
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}
