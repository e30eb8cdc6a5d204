// How the sidebar looks in a REAL VS Code (code-server + Chromium): Light Modern, Dark Modern and Dark
// High Contrast, each at the default sidebar width and at 250 px. Screenshots land in
// test-artifacts/ui/looks-*.png; the checks below are the defects a close look found (issue 11 §3).
//
//   npm run build && npm run package && node --import tsx --test test/ui/switchboard-looks.test.ts
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FrameLocator } from "playwright-core";
import { AA_TEXT, CONTRAST_PROBE, type ContrastSample } from "../support/webview/contrast.js";
import { LAYOUT_PROBE } from "../support/webview/layout.js";
import { ARTIFACTS_DIR, runCommand, screenshot } from "../support/vscode/workbench.js";
import { uiSuite, type BrokerApi, cliSync, sidebar, startPeer, until, waitForApproval, waitVisible, withFailureShots } from "./switchboard-helpers.js";

const THEMES = [
  { id: "Default Light Modern", label: "Light Modern", slug: "light-modern", bodyClass: "vscode-light" },
  { id: "Default Dark Modern", label: "Dark Modern", slug: "dark-modern", bodyClass: "vscode-dark" },
  { id: "Default High Contrast", label: "Dark High Contrast", slug: "dark-hc", bodyClass: "vscode-high-contrast" },
] as const;

const SETTINGS = { "switchboard.notifications.approvals": "off", "workbench.colorTheme": THEMES[0].id };

/** A long one-line command, the kind that used to wrap mid-word ("warnin g:") inside a scroll box. */
const LONG = [
  "sh",
  "-c",
  "echo warning: the build cache at /home/developer/projects/switchboard/node_modules/.cache/esbuild is stale; npm run build -- --minify --sourcemap=external && npm test -- --reporter=spec",
];

describe("the sidebar's looks in a real VS Code", { timeout: 900_000 }, () => {
  const suite = uiSuite("looks");
  const { home, workspace, page, cli } = suite;
  let api: BrokerApi;

  before(
    async () => {
      const opened = await suite.open({ settings: SETTINGS, shotName: "looks-0-startup" });
      api = opened.api;
      const record = opened.record;

      // Tall enough that every section is in the sidebar's rendered window (the lists are virtualised).
      await page().setViewportSize({ width: 1280, height: 1500 });
      // Something in every section: a session, three approvals (a long command, one with a summary,
      // a read-only one), an inbox message, a running, a completed and a stopped stream.
      await startPeer(record, "agent-alpha", workspace);
      const known = new Set<string>();
      const approveRun = async (args: string[], command: string) => {
        cli(["run", "--no-start", ...args]);
        const { approval } = await waitForApproval(api, (a) => a.command === command, { known });
        known.add(approval.approval_id);
        await api.decide(approval.approval_id, { decision: "approve", decided_by: "looks-test" });
        return approval;
      };
      await approveRun(["--", "sh", "-c", "echo built; exit 0"], "sh -c 'echo built; exit 0'");
      const stopped = await approveRun(["--", "sleep", "31"], "sleep 31");
      const running = await approveRun(["--", "sleep", "120"], "sleep 120");
      const streamOf = async (id: string) => until(`the stream of ${id}`, async () => (await api.approval(id)).stream_id);
      await api.cancelStream(await streamOf(stopped.approval_id), "stopped in switchboard-demo from the sidebar");
      await streamOf(running.approval_id);
      cli(["run", "--no-start", "--", ...LONG]);
      cli(["run", "--no-start", "--summary", "Deploy the docs site", "--", "make", "deploy"]);
      cli(["run", "--no-start", "--env", "--", "ls", "-la"]);
      await until("three pending approvals", async () => (await api.approvals("pending")).length >= 3);
      cliSync(["send", "The nightly build failed on main: 3 tests in test/unit/router.test.ts"], { home, cwd: workspace });
      const frame = sidebar(page());
      await waitVisible(frame, frame.locator("article.card.approval").nth(2), "three approval cards");
      await waitVisible(frame, frame.locator("article.row.stream", { hasText: "cancelled" }), "the stopped stream");
    },
    { timeout: 300_000 },
  );

  after(() => suite.end(), { timeout: 60_000 });

  /** Switches the colour theme through the command palette's theme picker, as a user would. */
  async function setTheme(theme: (typeof THEMES)[number]): Promise<FrameLocator> {
    const frame = sidebar(page());
    const has = async () => (await frame.locator("body").getAttribute("class"))?.split(/\s+/).includes(theme.bodyClass);
    if (!(await has())) {
      await runCommand(page(), "Preferences: Color Theme");
      const input = page().locator(".quick-input-widget input.input").first();
      await input.fill(theme.label);
      await page()
        .locator(".quick-input-widget .monaco-list-row", { has: page().locator(".label-name", { hasText: new RegExp(`^${theme.label}$`) }) })
        .first()
        .click();
      await until(`the sidebar to take the ${theme.id} theme`, has, 20_000);
      await page().waitForTimeout(300); // the workbench repaints around the webview
    }
    return frame;
  }

  /** Drags the sash between the sidebar and the editor so that the sidebar is `px` wide. */
  async function setSidebarWidth(px: number): Promise<void> {
    const part = page().locator(".part.sidebar");
    const box = await part.boundingBox();
    assert.ok(box, "the sidebar is shown");
    const edge = box.x + box.width;
    // The vertical sash nearest the sidebar's right edge.
    const sashes = await page()
      .locator(".monaco-sash.vertical")
      .evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => ({ x: r.x + r.width / 2, top: r.top, bottom: r.bottom })));
    const sash = sashes.filter((s) => s.bottom > s.top).sort((a, b) => Math.abs(a.x - edge) - Math.abs(b.x - edge))[0];
    assert.ok(sash && Math.abs(sash.x - edge) < 6, `a sash at the sidebar's edge (${edge}); sashes ${JSON.stringify(sashes)}`);
    const y = Math.max(sash.top, box.y) + 200;
    await page().mouse.move(sash.x, y);
    await page().mouse.down();
    await page().mouse.move(sash.x + 10, y, { steps: 2 });
    await page().mouse.move(box.x + px, y, { steps: 6 });
    await page().mouse.up();
    await until(
      `the sidebar to be ${px} px wide`,
      async () => {
        const w = (await part.boundingBox())?.width ?? 0;
        return Math.abs(w - px) <= 2;
      },
      5000,
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}: it is ${(await part.boundingBox())?.width} px`);
    });
  }

  async function shoot(name: string): Promise<void> {
    await screenshot(page(), name);
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    await page()
      .locator(".part.sidebar")
      .screenshot({ path: join(ARTIFACTS_DIR, `${name}-sidebar.png`), animations: "disabled" });
  }

  /** The layout checks of test/support/webview/layout.ts, in the real webview. */
  async function layoutProblems(frame: FrameLocator): Promise<string[]> {
    return frame.locator("body").evaluate(LAYOUT_PROBE) as Promise<string[]>;
  }

  it("names the view once, keeps Reconnect and Show Logs in its title bar only, and folds long commands", async () => {
    await withFailureShots(
      () => [page()],
      "looks-1",
      async () => {
        const frame = await setTheme(THEMES[1]);
        const title = page().locator(".part.sidebar .composite.title .title-label h2").first();
        assert.equal((await title.textContent())?.trim(), "Agent Switchboard", "the view title is the extension's name, once");
        assert.ok(await title.evaluate((h) => h.scrollWidth <= h.clientWidth + 1), "the view title is not cut off");
        for (const name of ["Reconnect to Broker", "Show Logs"]) {
          assert.equal(await page().locator(`.part.sidebar .title-actions .action-label[aria-label^="${name}"]`).count(), 1, `${name} in the view title bar`);
        }
        assert.equal(await frame.getByRole("button", { name: /Reconnect|logs/i }).count(), 0, "the webview does not repeat them while connected");

        // The long command: a few lines, a "Show all" expander, the full text one click away.
        const card = frame.locator("article.card.approval", { hasText: "warning: the build cache" });
        const pre = card.locator("pre.command");
        assert.match((await pre.getAttribute("class")) ?? "", /\bfolded\b/);
        assert.equal(await card.locator(".summary").count(), 0, "no summary repeating the command");
        const foldedHeight = (await pre.boundingBox())!.height;
        await card.getByRole("button", { name: "Show all of the command" }).click();
        await until("the command to unfold", async () => !/\bfolded\b/.test((await pre.getAttribute("class")) ?? ""));
        assert.equal(await pre.textContent(), LONG.slice(0, 2).join(" ") + ` '${LONG[2]}'`);
        assert.ok((await pre.boundingBox())!.height > foldedHeight, "unfolded shows more");
        // A session named by the user keeps its summary.
        assert.equal(await frame.locator("article.card.approval .summary", { hasText: "Deploy the docs site" }).count(), 1);
      },
    );
  });

  for (const theme of THEMES) {
    it(`${theme.id}: screenshots at the default width and at 250 px, text on badges and buttons meets WCAG AA`, async () => {
      await withFailureShots(
        () => [page()],
        `looks-${theme.slug}`,
        async () => {
          const frame = await setTheme(theme);
          // The variables VS Code gives the webview in this theme (test/support/webview/themes.ts follows them).
          const vars = await frame.locator("html").evaluate((h) => {
            const out: Record<string, string> = {};
            for (const name of Array.from(h.style)) if (name.startsWith("--vscode-")) out[name] = h.style.getPropertyValue(name).trim();
            return out;
          });
          mkdirSync(ARTIFACTS_DIR, { recursive: true });
          writeFileSync(
            join(ARTIFACTS_DIR, `theme-vars-${theme.slug}.json`),
            JSON.stringify(Object.fromEntries(Object.entries(vars).sort(([a], [b]) => a.localeCompare(b))), null, 1) + "\n",
          );

          // A confirmation notice, to check it does not cover the list.
          const inbox = frame.locator("article.card.inbox-item").first();
          if ((await inbox.count()) === 0) cliSync(["send", `A message for the ${theme.id} screenshot`], { home, cwd: workspace });
          await waitVisible(frame, frame.locator("article.card.inbox-item").first(), "an inbox message");
          await frame
            .locator("article.card.inbox-item")
            .first()
            .getByRole("button", { name: /^Dismiss/ })
            .click();
          await waitVisible(frame, frame.locator(".notice.ok"), "the confirmation notice");

          for (const width of [360, 250]) {
            await setSidebarWidth(width);
            await page().waitForTimeout(200);
            const problems = await layoutProblems(frame);
            const title = page().locator(".part.sidebar .composite.title .title-label h2").first();
            if (await title.evaluate((h) => h.scrollWidth > h.clientWidth + 1)) problems.push(`the view title is cut off: ${await title.textContent()}`);
            await shoot(`looks-${theme.slug}-${width}`);
            await frame.locator("section.sec-streams").scrollIntoViewIfNeeded();
            await shoot(`looks-${theme.slug}-${width}-streams`);
            await frame.locator("header.topbar").scrollIntoViewIfNeeded();
            assert.deepEqual(problems, [], `${theme.id} at ${width} px`);
          }
          const samples = (await frame.locator("body").evaluate(CONTRAST_PROBE)) as ContrastSample[];
          writeFileSync(join(ARTIFACTS_DIR, `contrast-${theme.slug}.json`), JSON.stringify(samples, null, 2));
          assert.ok(
            samples.some((s) => s.what.startsWith("button Approve")),
            "Approve buttons were measured",
          );
          assert.ok(
            samples.some((s) => s.what.startsWith("badge sh")),
            "the sh badge was measured",
          );
          assert.ok(
            samples.some((s) => s.what.startsWith("count badge")),
            "the count badges were measured",
          );
          const low = samples.filter((s) => s.ratio < AA_TEXT);
          assert.deepEqual(low, [], `text below ${AA_TEXT}:1 in ${theme.id}`);
          // Approve and Reject differ at a glance (in High Contrast both used to be outlined alike).
          const look = (sel: string) =>
            frame
              .locator(sel)
              .first()
              .evaluate((b) => {
                const s = getComputedStyle(b.shadowRoot!.querySelector(".base")!);
                return `${s.backgroundColor} ${s.color}`;
              });
          assert.notEqual(await look("vscode-button.approve"), await look("vscode-button.reject"), "Approve and Reject look different");
        },
      );
    });
  }
});
