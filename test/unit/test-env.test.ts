// The tests' hermetic environment (test/support/env.ts): whatever the caller's shell has set, a test
// process and the children it starts see no SWITCHBOARD_*/PI_*/npm_*/XDG_* of the caller and a
// throwaway HOME, and still find the shared VS Code install.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../support/broker.js";

describe("test environment", () => {
  it("drops the caller's product variables, keeps the harness's, and gives HOME a throwaway folder", () => {
    const code = `
      const { childEnv, TEST_HOME } = await import(${JSON.stringify(join(ROOT, "test/support/env.ts"))});
      const { homedir } = await import("node:os");
      process.stdout.write(JSON.stringify({ self: process.env, child: childEnv({ SWITCHBOARD_HOME: "/explicit" }), home: homedir(), TEST_HOME }));`;
    const caller = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: "/caller-home",
      SWITCHBOARD_HOME: "/caller-switchboard",
      SWITCHBOARD_PI_OFFLINE: "allow",
      SWITCHBOARD_FUZZ_SEED: "7",
      PI_CODING_AGENT_DIR: "/caller-pi",
      XDG_DATA_HOME: "/caller-xdg",
      npm_config_user_agent: "npm/10 node/v20",
      HTTPS_PROXY: "http://127.0.0.1:9",
      NODE_TEST_CONTEXT: "child-v8",
    };
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { cwd: ROOT, env: caller, encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    type Env = Record<string, string | undefined>;
    const { self, child, home, TEST_HOME } = JSON.parse(r.stdout) as { self: Env; child: Env; home: string; TEST_HOME: string };
    for (const env of [self, child]) {
      for (const k of ["SWITCHBOARD_PI_OFFLINE", "PI_CODING_AGENT_DIR", "XDG_DATA_HOME", "npm_config_user_agent", "HTTPS_PROXY"]) assert.equal(env[k], undefined, k);
      assert.equal(env.SWITCHBOARD_FUZZ_SEED, "7", "harness variables are kept");
      assert.equal(env.SWITCHBOARD_VSCODE_CACHE, "/caller-home/.cache/agent-switchboard/vscode", "the VS Code install is still found");
      assert.equal(env.HOME, TEST_HOME);
    }
    assert.equal(self.SWITCHBOARD_HOME, undefined);
    assert.equal(child.SWITCHBOARD_HOME, "/explicit");
    assert.equal(child.NODE_TEST_CONTEXT, undefined, "the runner's own variables are not passed on");
    assert.equal(home, TEST_HOME);
    assert.notEqual(TEST_HOME, "/caller-home");
    assert.equal(existsSync(TEST_HOME), false, "the throwaway HOME is removed at exit");
  });
});
