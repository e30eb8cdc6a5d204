// The broker's policy_changed announcer and its file watches, in process on real folders: one watch per
// rules file (on its folder, or the nearest existing ancestor until the folder appears), only for the
// workspaces of open sessions and at most maxWorkspaces of them, closed when the last session in a
// workspace ends and all closed by stop(); an edit announces once, an unchanged file not at all.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { Feed } from "../../src/broker/feed.js";
import { FileWatch } from "../../src/broker/file-watch.js";
import type { Logger } from "../../src/broker/log.js";
import { PolicyChanges } from "../../src/broker/policy-changes.js";
import { type EndpointRecord, Store } from "../../src/broker/store.js";
import type { PolicyChanged } from "../../src/protocol/index.js";
import { waitFor } from "../support/wait.js";

const log: Logger = { info() {}, warn() {}, error() {}, close: async () => {} };

function shaOf(file: string): string | null {
  try {
    return createHash("sha256").update(readFileSync(file)).digest("hex");
  } catch {
    return null;
  }
}

describe("PolicyChanges", () => {
  let dir: string;
  let store: Store;
  let announced: PolicyChanged[];
  let changes: PolicyChanges;
  const userFile = () => join(dir, "home", "policy", "rules.json");
  const root = (n: number) => join(dir, `ws${n}`);
  const wsFile = (n: number) => join(root(n), ".switchboard", "policy.json");

  const open = (id: string, n: number | null) =>
    store.apply({ t: "ep", ep: { endpoint_id: id, state: "active", plugin_pid: 1, kind: "pi", workspace: n === null ? null : { root: root(n) } } as unknown as EndpointRecord });
  const close = (id: string) => {
    store.apply({ t: "ep", ep: { ...store.endpoints.get(id)!, state: "closed" } });
    changes.endpointClosed(id);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "sb-pc-"));
    mkdirSync(join(dir, "home"));
    for (const n of [1, 2, 3]) mkdirSync(root(n));
    store = new Store();
    announced = [];
    const feed = { publish: (c: PolicyChanged) => announced.push(c) } as unknown as Feed;
    const files = { userFile: userFile(), userRulesSha: () => shaOf(userFile()), workspaceRulesSha: (r: string) => shaOf(join(r, ".switchboard", "policy.json")) };
    changes = new PolicyChanges(files, feed, store, log, { delayMs: 20, maxWorkspaces: 2 });
  });
  afterEach(() => {
    changes.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("watches the user's file and the workspaces of open sessions, at most maxWorkspaces, and closes each watch when it is no longer needed", () => {
    open("a", 1);
    open("b", 1);
    open("c", 2);
    open("d", 3);
    open("e", null);
    changes.start();
    assert.equal(changes.watchedCount, 3, "the user's file and two of the three workspaces");
    close("a");
    assert.equal(changes.watchedCount, 3, "workspace 1 still has a session");
    close("b");
    assert.equal(changes.watchedCount, 3, "workspace 1 let go, workspace 3 watched in its place");
    close("c");
    close("d");
    assert.equal(changes.watchedCount, 1);
    changes.stop();
    assert.equal(changes.watchedCount, 0);
    assert.deepEqual(announced, [], "no file had rules: nothing changed");
  });

  it("a user file created (its folder too) and then saved by rename is announced once per version; the desk's own writes are not announced again", async () => {
    changes.start();
    mkdirSync(join(dir, "home", "policy"));
    writeFileSync(userFile(), '{"rules":[]}');
    await waitFor(() => announced.length === 1, 5000, "the new file announced");
    assert.deepEqual(announced[0], { kind: "policy_changed", revision: 1, scope: "user", why: "file_changed" });
    writeFileSync(`${userFile()}.tmp`, '{"rules":[{"id":"x","decision":"ask","command":"x"}]}');
    renameSync(`${userFile()}.tmp`, userFile());
    await waitFor(() => announced.length === 2, 5000, "the renamed save announced");
    // What the desk writes itself it announces itself; the watch then finds the file as it was announced.
    writeFileSync(userFile(), '{"rules":[]}');
    changes.announce({ scope: "user", why: "rule_removed" });
    assert.equal(announced.length, 3);
    // Rewriting the same bytes changes nothing: after a later, real change only that one is added.
    writeFileSync(userFile(), '{"rules":[]}');
    mkdirSync(join(root(1), ".switchboard"));
    open("a", 1);
    changes.endpointOpened();
    writeFileSync(wsFile(1), '{"rules":[]}');
    await waitFor(() => announced.length === 4, 5000, "the workspace file announced");
    assert.deepEqual(
      announced.map((c) => `${c.revision} ${c.scope} ${c.why}`),
      ["1 user file_changed", "2 user file_changed", "3 user rule_removed", "4 workspace file_changed"],
    );
    assert.equal(announced[3]!.root, root(1));
  });

  it("a session with rules of its own is announced when it ends; a workspace with a rules file when its first session opens and its last one closes", () => {
    mkdirSync(join(root(2), ".switchboard"));
    writeFileSync(wsFile(2), '{"rules":[]}');
    open("a", null);
    store.apply({ t: "rule_add", ep: "a", rule: { id: "r", decision: "allow", command: "make" } });
    changes.start();
    open("b", 2);
    changes.endpointOpened();
    close("a");
    close("b");
    assert.deepEqual(
      announced.map((c) => [c.why, c.endpoint_id ?? c.root]),
      [
        ["workspace_opened", root(2)],
        ["session_ended", "a"],
        ["workspace_closed", root(2)],
      ],
    );
  });
});

describe("FileWatch", () => {
  it("follows the file's folder as it appears, goes and comes back, and stops at close", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-fw-"));
    const file = join(dir, "sub", "f.json");
    let seen = 0;
    const w = new FileWatch(file, () => seen++, log, { delayMs: 10, levels: 1 });
    try {
      assert.equal(w.watching, dir, "the nearest existing folder");
      mkdirSync(join(dir, "sub"));
      await waitFor(() => w.watching === join(dir, "sub"), 5000, "the new folder watched");
      let before = seen;
      writeFileSync(file, "1");
      await waitFor(() => seen > before, 5000, "the write seen");
      rmSync(join(dir, "sub"), { recursive: true });
      await waitFor(() => w.watching === dir, 5000, "back to the parent once the folder is gone");
      mkdirSync(join(dir, "sub"));
      before = seen;
      writeFileSync(file, "2");
      await waitFor(() => w.watching === join(dir, "sub") && seen > before, 5000, "the folder and the file seen again");
    } finally {
      w.close();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(w.watching, undefined);
  });
});
