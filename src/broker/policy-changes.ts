// Tells observers when the approval rules in force change: a `policy_changed` change on the observer
// feed (docs/protocol.md sections 7 and 11), so that a window's Policy section fetches GET /v1/policy
// again at once instead of polling. Changes come from the desk's routes (a rule added or removed, a
// workspace file accepted, the read-only set switched), from sessions that end with rules of their
// own, and from the rules files on disk: the user's file and the workspace files of open sessions are
// watched (src/broker/file-watch.ts), so edits by hand or by another process are noticed too.
import { join } from "node:path";
import type { PolicyChanged } from "../protocol/index.js";
import type { Feed } from "./feed.js";
import { FileWatch } from "./file-watch.js";
import type { Logger } from "./log.js";
import { WORKSPACE_RULES_FILE, workspaceRoot } from "./policy-desk.js";
import type { Store } from "./store.js";

/** What changed, as the desk and the watchers report it (the revision is added here). */
export type PolicyChange = Omit<PolicyChanged, "kind" | "revision">;

/** The rules files as the desk reads them: each one's SHA-256 as it is now (null when missing). */
export interface RulesFiles {
  readonly userFile: string;
  userRulesSha(): string | null;
  workspaceRulesSha(root: string): string | null;
}

export interface PolicyChangesOptions {
  /** How long after a file event the file is read again (a burst of events is one change). */
  delayMs: number;
  /** The most workspace folders watched at once; the others are still read when judged, just not announced. */
  maxWorkspaces: number;
}

export const DEFAULT_POLICY_CHANGES: PolicyChangesOptions = { delayMs: 50, maxWorkspaces: 64 };

export class PolicyChanges {
  private rev = 0;
  /** The SHA-256 of each watched file as last announced (null: no file). */
  private readonly known = new Map<string, string | null>();
  private userWatch: FileWatch | undefined;
  private readonly workspaces = new Map<string, FileWatch>();
  /** Sessions with rules of their own: when one ends, its rules leave with it. */
  private readonly ruleOwners = new Set<string>();
  private tooMany = false;
  private started = false;
  private stopped = false;

  constructor(
    private readonly files: RulesFiles,
    private readonly feed: Feed,
    private readonly store: Store,
    private readonly log: Logger,
    private readonly o: PolicyChangesOptions = DEFAULT_POLICY_CHANGES,
  ) {}

  /** Counts policy changes in this broker run. */
  get revision(): number {
    return this.rev;
  }

  /** The folders watched now (the user's and one per workspace), for tests and the log. */
  get watchedCount(): number {
    return (this.userWatch ? 1 : 0) + this.workspaces.size;
  }

  /** Starts watching: the user's file, the workspaces of the open sessions (after a restart too). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    const file = this.files.userFile;
    this.known.set(file, this.files.userRulesSha());
    this.userWatch = new FileWatch(file, () => this.look(file, () => this.files.userRulesSha(), { scope: "user", why: "file_changed" }), this.log, {
      delayMs: this.o.delayMs,
      levels: 1,
    });
    for (const ep of this.store.sessionRules.keys()) this.ruleOwners.add(ep);
    this.syncWorkspaces(false);
  }

  /** Something changed the rules in force: announce it. */
  announce(change: PolicyChange): void {
    if (this.stopped) return;
    if (change.scope === "session" && change.endpoint_id) {
      if (this.store.sessionRules.get(change.endpoint_id)?.length) this.ruleOwners.add(change.endpoint_id);
      else this.ruleOwners.delete(change.endpoint_id);
    }
    // A file the desk just wrote is known as it is now: its own watch event then changes nothing.
    if (change.scope === "user") this.known.set(this.files.userFile, this.files.userRulesSha());
    if (change.scope === "workspace" && change.root && this.workspaces.has(change.root)) this.known.set(rulesFile(change.root), this.files.workspaceRulesSha(change.root));
    this.rev++;
    this.feed.publish({ kind: "policy_changed", revision: this.rev, ...change });
  }

  /** An endpoint opened: its workspace's rules file may now be in force (and is watched). */
  endpointOpened(): void {
    this.syncWorkspaces(true);
  }

  /** An endpoint closed: its session rules ended with it, and its workspace may no longer be watched. */
  endpointClosed(endpointId: string): void {
    if (!this.started) return;
    if (this.ruleOwners.delete(endpointId)) this.announce({ scope: "session", why: "session_ended", endpoint_id: endpointId });
    this.syncWorkspaces(true);
  }

  stop(): void {
    this.stopped = true;
    this.userWatch?.close();
    this.userWatch = undefined;
    for (const w of this.workspaces.values()) w.close();
    this.workspaces.clear();
  }

  /** Watches the workspace folders of the open sessions, and only those. */
  private syncWorkspaces(announce: boolean): void {
    if (!this.started || this.stopped) return;
    const roots = new Set<string>();
    for (const ep of this.store.openEndpoints()) {
      const root = workspaceRoot(ep);
      if (root) roots.add(root);
    }
    for (const [root, watch] of this.workspaces) {
      if (roots.has(root)) continue;
      watch.close();
      this.workspaces.delete(root);
      const had = this.known.get(rulesFile(root));
      this.known.delete(rulesFile(root));
      if (announce && had != null) this.announce({ scope: "workspace", why: "workspace_closed", root });
    }
    if (roots.size <= this.o.maxWorkspaces) this.tooMany = false;
    for (const root of roots) {
      if (this.workspaces.has(root)) continue;
      if (this.workspaces.size >= this.o.maxWorkspaces) {
        if (!this.tooMany) this.log.warn("too many workspaces to watch their rules files; edits to the others are noticed when a request is judged", { max: this.o.maxWorkspaces });
        this.tooMany = true;
        break;
      }
      const file = rulesFile(root);
      const sha = this.files.workspaceRulesSha(root);
      this.known.set(file, sha);
      this.workspaces.set(
        root,
        new FileWatch(file, () => this.look(file, () => this.files.workspaceRulesSha(root), { scope: "workspace", why: "file_changed", root }), this.log, {
          delayMs: this.o.delayMs,
          levels: 1,
        }),
      );
      if (announce && sha !== null) this.announce({ scope: "workspace", why: "workspace_opened", root });
    }
  }

  /** A watched file may have changed: read it again (the desk keeps the rules) and announce a new version. */
  private look(file: string, sha: () => string | null, change: PolicyChange): void {
    if (this.stopped || !this.known.has(file)) return;
    const now = sha();
    if (now === this.known.get(file)) return;
    this.known.set(file, now);
    this.log.info("a rules file changed on disk", { file, sha256: now });
    this.announce(change);
  }
}

function rulesFile(root: string): string {
  return join(root, WORKSPACE_RULES_FILE);
}
