// parseSettings (src/extension/settings-parse.ts) as a pure core: defaults, good values, and each kind
// of wrong value falling back with a warning that names the setting. The defaults must agree with the
// ones package.json declares, since VS Code shows those.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseSettings } from "../../src/extension/settings-parse.js";

const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  contributes: { configuration: { properties: Record<string, { default?: unknown }> } };
};

function parse(values: Record<string, unknown>) {
  const warnings: string[] = [];
  const settings = parseSettings(
    (key) => values[key],
    (w) => warnings.push(w),
  );
  return { settings, warnings };
}

test("nothing set: every default, no warning", () => {
  const { settings, warnings } = parse({});
  assert.deepEqual(warnings, []);
  assert.equal(settings.autoStart, true);
  assert.equal(settings.notifications, "all");
  assert.equal(settings.shTerminals, "reveal");
  assert.equal(settings.envTerminals, "background");
  assert.equal(settings.recentStreams, 20);
  assert.equal(settings.piCommand, "pi");
  assert.equal(settings.brokerHome, undefined);
});

test("the defaults agree with package.json", () => {
  const props = manifest.contributes.configuration.properties;
  const { settings } = parse({});
  const pairs: [string, unknown][] = [
    ["switchboard.broker.autoStart", settings.autoStart],
    ["switchboard.notifications.approvals", settings.notifications],
    ["switchboard.approvals.autoApproveEnv", settings.autoApproveEnv],
    ["switchboard.terminals.sh", settings.shTerminals],
    ["switchboard.terminals.env", settings.envTerminals],
    ["switchboard.retention.recentStreams", settings.recentStreams],
    ["switchboard.retention.recentMessages", settings.recentMessages],
    ["switchboard.pi.command", settings.piCommand],
  ];
  for (const [key, value] of pairs) assert.deepEqual(props[key]?.default, value, key);
});

test("good values are taken; blank strings mean not set", () => {
  const { settings, warnings } = parse({ "broker.home": " /tmp/x ", sessionName: "  ", "notifications.approvals": "off", "retention.recentStreams": 0, "pi.args": ["--a", "b"] });
  assert.deepEqual(warnings, []);
  assert.equal(settings.brokerHome, "/tmp/x");
  assert.equal(settings.sessionName, undefined);
  assert.equal(settings.notifications, "off");
  assert.equal(settings.recentStreams, 0);
  assert.deepEqual(settings.piArgs, ["--a", "b"]);
});

test("wrong values fall back to the default with a warning naming the setting", () => {
  const { settings, warnings } = parse({
    "broker.autoStart": "yes",
    "terminals.sh": "popup",
    "retention.recentStreams": 2.5,
    "retention.recentMessages": 5000,
    "pi.command": 7,
    "pi.args": ["ok", 3, null],
  });
  assert.equal(settings.autoStart, true);
  assert.equal(settings.shTerminals, "reveal");
  assert.equal(settings.recentStreams, 20);
  assert.equal(settings.recentMessages, 100);
  assert.equal(settings.piCommand, "pi");
  assert.deepEqual(settings.piArgs, ["ok"]);
  for (const key of ["broker.autoStart", "terminals.sh", "retention.recentStreams", "retention.recentMessages", "pi.command", "pi.args"])
    assert.ok(
      warnings.some((w) => w.includes(`switchboard.${key}`)),
      `a warning for ${key}: ${warnings.join(" | ")}`,
    );
});

test("a getter that throws is a warning, not a crash", () => {
  const warnings: string[] = [];
  const settings = parseSettings(
    () => {
      throw new Error("boom");
    },
    (w) => warnings.push(w),
  );
  assert.equal(settings.autoStart, true);
  assert.ok(warnings.length > 0 && warnings.every((w) => /could not be read \(boom\)/.test(w)));
});
