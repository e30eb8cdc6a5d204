// The route table of src/protocol/routes.ts is the one place routes are spelled: docs/protocol.md must
// document exactly those routes, and the broker and the client must derive theirs from it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROUTES, SOCKETS, matchPath, routePath } from "../../src/protocol/index.js";
import { ROOT } from "../support/paths.js";

const doc = readFileSync(join(ROOT, "docs", "protocol.md"), "utf8");

/** Every "`METHOD /path…`" the protocol document mentions, without its query string. */
function documented(): Set<string> {
  const found = new Set<string>();
  for (const m of doc.matchAll(/`(GET|POST|DELETE|PUT|PATCH) (\/[^`?\s]*)[^`]*`/g)) found.add(`${m[1]} ${m[2]}`);
  return found;
}

const table = [...Object.values(ROUTES).map((r) => `${r.method} ${r.path}`), ...Object.values(SOCKETS).map((s) => `GET ${s.path}`)];

test("no route is in the table twice", () => {
  assert.equal(new Set(table).size, table.length);
});

test("docs/protocol.md documents every route of the table", () => {
  const docs = documented();
  assert.deepEqual(
    table.filter((r) => !docs.has(r)),
    [],
  );
});

test("docs/protocol.md documents no route the table lacks", () => {
  const known = new Set(table);
  assert.deepEqual(
    [...documented()].filter((r) => !known.has(r)),
    [],
  );
});

test("the broker and the client spell no route themselves", () => {
  for (const file of [
    "src/broker/server.ts",
    "src/broker/listeners.ts",
    "src/broker/socket-upgrades.ts",
    "src/broker/route-table.ts",
    "src/client/api.ts",
    "src/client/client.ts",
    "src/client/follow.ts",
    "src/client/observer-feed.ts",
  ]) {
    const code = readFileSync(join(ROOT, file), "utf8").replace(/^\s*(\/\/|\*).*$/gm, "");
    assert.doesNotMatch(code, /["'`]\/(v1|health)\b/, `${file} spells a route path; use ROUTES or SOCKETS from src/protocol/routes.ts`);
  }
});

test("paths are filled in and matched with their parameters percent-encoded", () => {
  assert.equal(routePath(ROUTES.decide, ["ap 1/x"]), "/v1/approvals/ap%201%2Fx/decision");
  assert.deepEqual(matchPath(SOCKETS.live, "/v1/streams/st_1/live"), ["st_1"]);
  assert.equal(matchPath(SOCKETS.live, "/v1/streams/st_1"), undefined);
  assert.throws(() => routePath(ROUTES.decide, []), /needs 1 path parameter/);
  assert.throws(() => routePath(ROUTES.health, ["x"]), /takes 0 path parameter/);
});
