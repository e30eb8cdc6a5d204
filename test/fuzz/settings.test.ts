// Settings values of the wrong type or out of range: parseSettings (what the extension runs on every
// configuration change) never throws, keeps every valid value, and replaces every wrong one by its
// default with a warning that names the setting. The oracle is package.json's own configuration schema.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseSettings, type Settings } from "../../src/extension/settings-parse.js";
import { ROOT } from "../support/broker.js";
import { SOAK, printSummary, seedFor } from "./helpers.js";

const SUITE = "fuzz/settings";
const SEED = seedFor(SUITE);
const RUNS = SOAK ? 100_000 : 3_000;

interface Declared {
  type: "string" | "boolean" | "integer" | "array";
  default: unknown;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  items?: { type: string };
}

/** A `switchboard.agents` entry as package.json's schema describes it (the oracle, written apart from the parser). */
function agentOk(e: unknown): boolean {
  if (!e || typeof e !== "object" || Array.isArray(e)) return false;
  const a = e as Record<string, unknown>;
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "string");
  const env = (v: unknown) => !!v && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string");
  return (
    typeof a.command === "string" &&
    a.command.trim() !== "" &&
    (a.name === undefined || typeof a.name === "string") &&
    (a.args === undefined || strings(a.args)) &&
    (a.env === undefined || env(a.env))
  );
}
const landAgent = (e: Record<string, any>) => ({ name: (e.name ?? "").trim() || e.command.trim(), command: e.command.trim(), args: e.args ?? [], env: { ...(e.env ?? {}) } });
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { contributes: { configuration: { properties: Record<string, Declared> } } };
const DECLARED = Object.fromEntries(Object.entries(pkg.contributes.configuration.properties).map(([k, d]) => [k.replace(/^switchboard\./, ""), d]));

/** Which Settings field each setting fills, and how a valid value lands there. */
const FIELDS: Record<string, { field: keyof Settings; land: (v: any) => unknown }> = {
  "broker.home": { field: "brokerHome", land: (v: string) => v.trim() || undefined },
  "broker.autoStart": { field: "autoStart", land: (v) => v },
  sessionName: { field: "sessionName", land: (v: string) => v.trim() || undefined },
  "notifications.approvals": { field: "notifications", land: (v) => v },
  "approvals.autoApproveEnv": { field: "autoApproveEnv", land: (v) => v },
  "terminals.sh": { field: "shTerminals", land: (v) => v },
  "terminals.env": { field: "envTerminals", land: (v) => v },
  "retention.recentStreams": { field: "recentStreams", land: (v) => v },
  "retention.recentMessages": { field: "recentMessages", land: (v) => v },
  "pi.command": { field: "piCommand", land: (v: string) => v.trim() || "pi" },
  "pi.args": { field: "piArgs", land: (v) => v },
  "claude.command": { field: "claudeCommand", land: (v: string) => v.trim() || "claude" },
  "claude.args": { field: "claudeArgs", land: (v) => v },
  agents: { field: "agents", land: (v: Record<string, any>[]) => v.map(landAgent) },
};

/** Does package.json's schema accept this value for this setting? */
function accepted(d: Declared, v: unknown): boolean {
  if (d.type === "string") return typeof v === "string" && (!d.enum || d.enum.includes(v));
  if (d.type === "boolean") return typeof v === "boolean";
  if (d.type === "integer") return typeof v === "number" && Number.isInteger(v) && v >= (d.minimum ?? -Infinity) && v <= (d.maximum ?? Infinity);
  if (d.items?.type === "object") return Array.isArray(v) && v.every(agentOk);
  return Array.isArray(v) && v.every((x) => typeof x === (d.items?.type ?? "string"));
}

const defaults = parseSettings(() => undefined);

/** Values for one setting: unset, valid ones (declared choices, range edges) and every kind of wrong one. */
function valueArb(d: Declared): fc.Arbitrary<unknown> {
  const valid: fc.Arbitrary<unknown>[] = [];
  if (d.type === "string") valid.push(d.enum ? fc.constantFrom(...d.enum) : fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom("", "  ", " /tmp/x ", "pi")));
  if (d.type === "boolean") valid.push(fc.boolean());
  if (d.type === "integer") valid.push(fc.integer({ min: d.minimum ?? 0, max: d.maximum ?? 1000 }), fc.constantFrom(d.minimum ?? 0, d.maximum ?? 1000));
  if (d.type === "array" && d.items?.type === "object")
    valid.push(
      fc.array(
        fc.record(
          {
            name: fc.string({ maxLength: 8 }),
            command: fc.string({ minLength: 1, maxLength: 8 }).filter((c) => c.trim() !== ""),
            args: fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
            env: fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }),
          },
          { requiredKeys: ["command"] },
        ),
        { maxLength: 3 },
      ),
    );
  else if (d.type === "array") valid.push(fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }));
  const wrong = fc.oneof(
    fc.constantFrom(
      null,
      "",
      "true",
      "false",
      "20",
      "1e3",
      "reveal ",
      "ALL",
      "NaN",
      -1,
      1.5,
      1e9,
      NaN,
      Infinity,
      -0,
      0,
      true,
      false,
      [],
      {},
      ["x", 3],
      [null],
      { length: 2 },
      "__proto__",
    ),
    fc.anything({ maxDepth: 2 }),
    fc.string({ maxLength: 10 }),
    fc.integer({ min: -5, max: (d.maximum ?? 100) + 5 }),
    fc.double(),
  );
  return fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.oneof(...valid) }, { weight: 3, arbitrary: wrong });
}

describe(SUITE, () => {
  it("every declared setting is parsed, and parsing nothing gives package.json's defaults", () => {
    assert.deepEqual(Object.keys(DECLARED).sort(), Object.keys(FIELDS).sort(), "package.json settings and parsed fields differ");
    const fromDefaults = parseSettings(
      (k) => DECLARED[k]!.default,
      (m) => assert.fail(`a declared default was refused: ${m}`),
    );
    assert.deepEqual(fromDefaults, defaults);
    for (const [key, d] of Object.entries(DECLARED)) assert.ok(accepted(d, d.default), `the default of ${key} fits its own schema`);
  });

  it("a getter that throws leaves that setting at its default, with a warning", () => {
    const warnings: string[] = [];
    const s = parseSettings(
      (k) => {
        if (k === "retention.recentStreams") throw new Error("configuration unavailable");
        return undefined;
      },
      (m) => warnings.push(m),
    );
    assert.deepEqual(s, defaults);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /switchboard\.retention\.recentStreams could not be read/);
  });

  it(`${RUNS} configurations with wrong-typed values: defaults and a warning for each wrong one, never a throw`, () => {
    let wrongValues = 0;
    let warningCount = 0;
    const keys = Object.keys(DECLARED);
    const configArb = fc.tuple(...keys.map((k) => valueArb(DECLARED[k]!)));
    fc.assert(
      fc.property(configArb, (values) => {
        const config = new Map(keys.map((k, i) => [k, values[i]]));
        const warnings: string[] = [];
        const s = parseSettings(
          (k) => config.get(k),
          (m) => warnings.push(m),
        );
        warningCount += warnings.length;
        for (const [key, value] of config) {
          const d = DECLARED[key]!;
          const { field, land } = FIELDS[key]!;
          const named = warnings.filter((w) => w.includes(`switchboard.${key} `));
          if (value === undefined) {
            assert.deepEqual(s[field], defaults[field], `${key} unset`);
            assert.deepEqual(named, [], `${key} unset is not worth a warning`);
          } else if (accepted(d, value)) {
            assert.deepEqual(s[field], land(value), `${key} = ${JSON.stringify(value)} is kept`);
            assert.deepEqual(named, [], `${key} = ${JSON.stringify(value)} is valid`);
          } else {
            wrongValues++;
            assert.equal(named.length, 1, `one warning for ${key} = ${String(JSON.stringify(value))}: ${JSON.stringify(warnings)}`);
            assert.match(named[0]!, /^Setting switchboard\.\S+ (should|could)\b.*\.$/, "the warning is a sentence");
            // An array with some strings keeps the strings; anything else wrong is the default.
            const expected =
              d.type === "array" && Array.isArray(value)
                ? d.items?.type === "object"
                  ? value.filter(agentOk).map(landAgent)
                  : value.filter((x) => typeof x === "string")
                : defaults[field];
            assert.deepEqual(s[field], expected, `${key} = ${String(JSON.stringify(value))} falls back`);
          }
        }
        // Whatever came in, what goes out has the declared types.
        for (const [key, d] of Object.entries(DECLARED)) {
          const out = s[FIELDS[key]!.field];
          if (out === undefined) assert.equal(d.type, "string", `${key} may only be unset when it is a string`);
          else assert.ok(accepted(d, out), `${key} came out as ${JSON.stringify(out)}`);
        }
        assert.equal(warnings.length, new Set(warnings).size, "no warning twice");
      }),
      { seed: SEED, numRuns: RUNS },
    );
    assert.ok(wrongValues > RUNS, `wrong values were generated (${wrongValues})`);
    printSummary({ suite: SUITE, seed: SEED, cases: RUNS, settings: RUNS * keys.length, wrong_values: wrongValues, warnings: warningCount, throws: 0 });
  });
});
