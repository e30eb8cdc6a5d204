// Parent side of bench/lib/stream-observer.ts: one tracked child process that follows streams on request.
import { join } from "node:path";
import type { FollowCommand, ObserverMessage, ObserverResult } from "./stream-observer.js";
import { spawnTracked, type Tracked } from "./procs.js";
import { ROOT } from "./servers.js";

export interface Follow {
  /** Resolves once the observer's live socket received `hello`. */
  ready: Promise<void>;
  /** Resolves at `end` with what the observer saw; rejects on error or timeout. */
  done: Promise<ObserverResult>;
}

export class ObserverProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, { ready: () => void; done: (r: ObserverResult) => void; fail: (e: Error) => void }>();

  private constructor(readonly child: Tracked) {
    child.proc.on("message", (m: ObserverMessage) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      if (m.type === "ready") w.ready();
      else {
        this.waiting.delete(m.id);
        if (m.type === "done") w.done(m.result);
        else w.fail(new Error(`observer: ${m.message}`));
      }
    });
    void child.exited.then(({ code, signal }) => {
      for (const w of this.waiting.values()) w.fail(new Error(`observer process exited (${code ?? signal}): ${child.stderrTail()}`));
      this.waiting.clear();
    });
  }

  static start(): ObserverProcess {
    const child = spawnTracked(process.execPath, ["--import", "tsx", join(ROOT, "bench/lib/stream-observer.ts")], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    return new ObserverProcess(child);
  }

  follow(cmd: Omit<FollowCommand, "type" | "id">): Follow {
    const id = this.nextId++;
    let ready!: () => void;
    let done!: (r: ObserverResult) => void;
    let fail!: (e: Error) => void;
    const readyP = new Promise<void>((r) => (ready = r));
    const doneP = new Promise<ObserverResult>((res, rej) => {
      done = res;
      fail = rej;
    });
    doneP.catch(() => {}); // the caller awaits it; never an unhandled rejection in between
    let isReady = false;
    this.waiting.set(id, {
      ready: () => {
        isReady = true;
        ready();
      },
      done,
      fail: (e) => {
        if (!isReady) ready(); // let a caller waiting for ready go on to see the failure in done
        fail(e);
      },
    });
    this.child.proc.send({ type: "follow", id, ...cmd } satisfies FollowCommand);
    return { ready: readyP, done: doneP };
  }

  async stop(): Promise<void> {
    if (this.child.proc.connected) this.child.proc.send({ type: "exit" });
    await Promise.race([this.child.exited, new Promise((r) => setTimeout(r, 1000))]);
    await this.child.stop(500);
  }
}
