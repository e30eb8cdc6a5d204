// Bench for the sidebar webview (needs `npm run build`). Prints one JSON object:
//  - first_render_ms_1000: a fresh sidebar page receives a state with 1,000 inbox items; time from the
//    message event to the DOM being built, custom elements upgraded and rendered, style and layout done
//    (median of --trials fresh pages). first_frame_ms_1000 adds waiting for the next painted frame.
//  - update_ms_1000: the same page then receives states that differ a little (one item gone, one new,
//    the clock moved on): time for the re-render plus style and layout (median of --updates).
//  - scroll_frame_ms_1000: the page is scrolled through the 1,000 items, most of a viewport per step;
//    time from the scroll event to the window re-rendered and laid out (median and p90).
//  - rendered_items: how many of the 1,000 inbox items are in the DOM after the first render.
//  - bundle_bytes / bundle_gzip_bytes: media/sidebar.js as the release build makes it (esbuild, minified,
//    the options of scripts/build.mjs), built in memory so the dev build on disk is left alone.
// Measured in Debian Chromium (headless, 360x900 viewport like a sidebar), not in VS Code itself. Wall
// times: on a busy machine they grow, so the 1-minute load average and the minimum are printed too.
// Usage: node --import tsx bench/webview.ts [--trials 7] [--updates 20]
import { availableParallelism, loadavg } from "node:os";
import { gzipSync } from "node:zlib";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { bigInboxState } from "../test/support/webview/fixtures.js";
import { Sidebar, launchBrowser, startServer } from "../test/support/webview/harness.js";
import { ROOT } from "../test/support/paths.js";

const { values } = parseArgs({ options: { trials: { type: "string", default: "7" }, updates: { type: "string", default: "20" } } });
const TRIALS = Number(values.trials);
const UPDATES = Number(values.updates);
const N = 1000;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const p90 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.9 * s.length) - 1)]!;
};
const round = (x: number) => Math.round(x * 100) / 100;

async function bundleSize(): Promise<{ bytes: number; gzip: number }> {
  const out = await build({
    absWorkingDir: ROOT,
    entryPoints: ["src/webview/main.ts"],
    bundle: true,
    platform: "browser",
    target: "chrome120",
    format: "iife",
    minify: true,
    legalComments: "none",
    write: false,
    logLevel: "warning",
  });
  const js = out.outputFiles[0]!.contents;
  return { bytes: js.byteLength, gzip: gzipSync(js, { level: 9 }).byteLength };
}

/** Runs in the page: deliver one host message and time it until layout (and until the next frame). */
async function measureInPage(data: unknown): Promise<{ layout: number; frame: number }> {
  const t0 = performance.now();
  window.dispatchEvent(new MessageEvent("message", { data }));
  // Lit components render in microtasks (a few hops deep: vscode-button renders a vscode-icon); let them
  // run without yielding to a task, which could let a whole frame happen in between.
  for (let i = 0; i < 20; i++) await null;
  void document.body.offsetHeight; // style and layout
  const t1 = performance.now();
  const notRendered = [...document.querySelectorAll("vscode-button, vscode-badge, vscode-textfield")].filter((e) => !(e as Element & { hasUpdated?: boolean }).hasUpdated).length;
  if (notRendered > 0) throw new Error(`${notRendered} components had not rendered when the time was taken`);
  await new Promise<void>((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  return { layout: t1 - t0, frame: performance.now() - t0 };
}

const server = await startServer();
const browser = await launchBrowser();
try {
  const first: number[] = [];
  const firstFrame: number[] = [];
  const updates: number[] = [];
  const scroll: number[] = [];
  let rendered = 0;
  for (let t = 0; t < TRIALS; t++) {
    const sb = await Sidebar.open(browser, server, { theme: "dark" });
    const big = bigInboxState(N, t);
    await sb.page.evaluate(() => new Promise((r) => setTimeout(r, 50)));
    const r = await sb.page.evaluate(measureInPage, { type: "state", state: big } as unknown);
    first.push(r.layout);
    firstFrame.push(r.frame);
    rendered = await sb.page.evaluate(() => document.querySelectorAll("#body-inbox li[data-key]").length);
    if (t === 0) {
      // Updates: drop the first item, add a new one at the top, move the clock on by a second.
      let state = big;
      for (let u = 0; u < UPDATES; u++) {
        const now = new Date(Date.parse(state.now) + 1000).toISOString();
        const fresh = { ...state.inbox[0]!, id: `new-${u}`, content: `New message ${u}`, arrived_at: now };
        state = { ...state, now, inbox: [fresh, ...state.inbox.slice(2), state.inbox[1]!] };
        const m = await sb.page.evaluate(measureInPage, { type: "state", state } as unknown);
        updates.push(m.layout);
      }
      // Scrolling: step through the list a viewport at a time, timing the re-render the scroll triggers.
      const steps = await sb.page.evaluate(async () => {
        const out: number[] = [];
        const max = document.documentElement.scrollHeight - innerHeight;
        for (let y = innerHeight * 0.9; y <= max && out.length < 60; y += innerHeight * 0.9) {
          // The app's scroll listener (added first) queues its re-render for this frame's animation
          // callbacks; ours is queued after it, so it sees the re-render done; layout is then forced.
          const step = new Promise<number>((resolve) => {
            window.addEventListener(
              "scroll",
              () => {
                const t0 = performance.now();
                requestAnimationFrame(() => {
                  void document.body.offsetHeight;
                  resolve(performance.now() - t0);
                });
              },
              { once: true },
            );
          });
          window.scrollTo(0, y);
          out.push(await step);
        }
        return out;
      });
      scroll.push(...steps);
    }
    await sb.page.close();
  }
  const size = await bundleSize();
  console.log(
    JSON.stringify(
      {
        items: N,
        trials: TRIALS,
        first_render_ms_1000: round(median(first)),
        first_render_ms_1000_min: round(Math.min(...first)),
        first_render_ms_1000_all: first.map(round),
        first_frame_ms_1000: round(median(firstFrame)),
        update_ms_1000: round(median(updates)),
        update_ms_1000_p90: round(p90(updates)),
        update_ms_1000_min: round(Math.min(...updates)),
        scroll_frame_ms_1000: round(median(scroll)),
        scroll_frame_ms_1000_p90: round(p90(scroll)),
        rendered_items: rendered,
        bundle_bytes: size.bytes,
        bundle_gzip_bytes: size.gzip,
        browser: "chromium (headless), viewport 360x900",
        load_average_1m: round(loadavg()[0]!),
        cpus: availableParallelism(),
      },
      null,
      2,
    ),
  );
} finally {
  await browser.close();
  await server.close();
}
